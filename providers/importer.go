package providers

import "context"

// TokenImporter is implemented by providers that can take over a card a merchant
// saved at them before using the engine, without the customer: the merchant sends the
// provider's stored-credential fields (Stripe: payment_method and customer; Amazon
// Payment Services: token_name and agreement_id), and the adapter checks them and
// returns the card as SaveCard would have.
type TokenImporter interface {
	ImportToken(ctx context.Context, req ImportTokenRequest) (SavedCard, error)
}

// ImportTokenRequest is a card saved at the provider, as the merchant describes it.
type ImportTokenRequest struct {
	// Fields are the provider's stored-credential fields, by their API names. An
	// unknown or missing one is an invalid request whose Param is "token.<name>".
	Fields map[string]string
	// Method is the saved method's kind: providers.MethodCard (also when empty) or
	// providers.MethodPayPal, a billing agreement the payer gave at PayPal.
	Method     string
	CustomerID string
	Email      string
	// Brand, Last4, ExpMonth and ExpYear are the card's display data as the merchant
	// has it; an adapter that can read them from the provider checks them instead.
	Brand    string
	Last4    string
	ExpMonth int
	ExpYear  int
}

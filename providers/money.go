package providers

import "errors"

// AmountConverter is implemented by providers whose API counts some currencies
// differently from ISO 4217 minor units (Stripe: MGA has no decimals there, ISK keeps
// two, three-decimal amounts must end in 0). The engine keeps ISO minor units
// everywhere; the adapter converts at its edge, and the API refuses, when a plan or
// payment is created, an amount the provider cannot represent.
type AmountConverter interface {
	// ProviderAmount converts an ISO 4217 minor-unit amount to the provider's unit, or
	// returns an error wrapping ErrAmountNotSupported.
	ProviderAmount(amount int64, currency string) (int64, error)
	// ISOAmount converts a provider amount back to ISO 4217 minor units.
	ISOAmount(amount int64, currency string) int64
}

// ErrAmountNotSupported: the provider cannot charge this exact amount in this currency.
var ErrAmountNotSupported = errors.New("amount not supported by the provider")

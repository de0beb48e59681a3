package api

import (
	"context"
	"fmt"
	"net/mail"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/recurring/recurring/billing"
)

// maxMetadataKeyLength bounds metadata keys; openapi.yaml bounds the rest.
const maxMetadataKeyLength = 40

var validate = validator.New()

// CreateCustomer implements POST /v1/customers.
func (s *server) CreateCustomer(ctx context.Context, req CreateCustomerRequestObject) (CreateCustomerResponseObject, error) {
	b := req.Body
	var v billing.ValidationError
	checkEmail(&v, b.Email)
	if b.BillingAddress != nil {
		checkAddress(&v, *b.BillingAddress)
	}
	if b.Metadata != nil {
		checkMetadata(&v, *b.Metadata)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.store.CreateCustomer(ctx, callerFrom(ctx), billing.NewCustomer{
		Email: b.Email, FirstName: deref(b.FirstName), LastName: deref(b.LastName),
		Address: addressIn(b.BillingAddress), Metadata: metadataIn(b.Metadata),
	})
	if err != nil {
		return nil, err
	}
	return CreateCustomer201JSONResponse(customerOut(c)), nil
}

// GetCustomer implements GET /v1/customers/{id}.
func (s *server) GetCustomer(ctx context.Context, req GetCustomerRequestObject) (GetCustomerResponseObject, error) {
	c, err := s.store.GetCustomer(ctx, callerFrom(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return GetCustomer200JSONResponse(customerOut(c)), nil
}

// UpdateCustomer implements PATCH /v1/customers/{id}.
func (s *server) UpdateCustomer(ctx context.Context, req UpdateCustomerRequestObject) (UpdateCustomerResponseObject, error) {
	b := req.Body
	var v billing.ValidationError
	var patch billing.CustomerPatch
	if b.Email != nil {
		checkEmail(&v, *b.Email)
		patch.Email = b.Email
	}
	patch.FirstName = nullableIn(b.FirstName)
	patch.LastName = nullableIn(b.LastName)
	if b.BillingAddress.IsSpecified() {
		patch.SetAddress = true
		if !b.BillingAddress.IsNull() {
			a := b.BillingAddress.MustGet()
			checkAddress(&v, a)
			patch.Address = addressIn(&a)
		}
	}
	if b.Metadata != nil {
		checkMetadata(&v, *b.Metadata)
		patch.Metadata = *b.Metadata
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.store.UpdateCustomer(ctx, callerFrom(ctx), req.Id, patch)
	if err != nil {
		return nil, err
	}
	return UpdateCustomer200JSONResponse(customerOut(c)), nil
}

// DeleteCustomer implements DELETE /v1/customers/{id}.
func (s *server) DeleteCustomer(ctx context.Context, req DeleteCustomerRequestObject) (DeleteCustomerResponseObject, error) {
	caller := callerFrom(ctx)
	// Read first: another merchant's id must be a 404 before any plan is counted.
	if _, err := s.store.GetCustomer(ctx, caller, req.Id); err != nil {
		return nil, err
	}
	n, err := s.plans.ActivePlans(ctx, caller.MerchantID, req.Id)
	if err != nil {
		return nil, fmt.Errorf("count active plans of %s: %w", req.Id, err)
	}
	if n > 0 {
		return nil, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeCustomerHasActivePlans, Param: "id",
			Message: fmt.Sprintf("the customer has %d unfinished %s; cancel %s before deleting the customer", n,
				plural(n, "plan", "plans"), plural(n, "it", "them"))}
	}
	detached, err := s.store.DeleteCustomer(ctx, caller, req.Id)
	if err != nil {
		return nil, err
	}
	for _, pm := range detached {
		if err := s.notifier.PaymentMethodDetached(ctx, caller.MerchantID, pm); err != nil {
			return nil, fmt.Errorf("notify plans of detached %s: %w", pm, err)
		}
	}
	return DeleteCustomer200JSONResponse{Id: req.Id, Object: string(CustomerObjectCustomer), Deleted: true}, nil
}

// ListCustomers implements GET /v1/customers.
func (s *server) ListCustomers(ctx context.Context, req ListCustomersRequestObject) (ListCustomersResponseObject, error) {
	p, err := s.store.ListCustomers(ctx, callerFrom(ctx), billing.CustomerFilter{Email: deref(req.Params.Email)},
		billing.ListParams{Limit: deref(req.Params.Limit), StartingAfter: deref(req.Params.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListCustomers200JSONResponse{Object: CustomerListObjectList, HasMore: p.HasMore, Data: make([]Customer, len(p.Items))}
	for i, c := range p.Items {
		out.Data[i] = customerOut(c)
	}
	return out, nil
}

func checkEmail(v *billing.ValidationError, email string) {
	// validator's "email" follows the HTML spec's pattern; net/mail also refuses
	// display names and other forms a mail address field should not hold.
	a, err := mail.ParseAddress(email)
	if validate.Var(email, "email") != nil || err != nil || a.Address != email {
		v.Add("email", billing.CodeInvalidEmail, "email must be an email address such as ada@example.com")
	}
}

func checkAddress(v *billing.ValidationError, a Address) {
	if validate.Var(a.Country, "iso3166_1_alpha2") != nil {
		v.Add("billing_address.country", billing.CodeInvalidCountry, "country must be an ISO 3166-1 alpha-2 code in upper case, such as GB or US")
	}
}

func checkMetadata(v *billing.ValidationError, m Metadata) {
	for k := range m {
		if k == "" || utf8.RuneCountInString(k) > maxMetadataKeyLength {
			v.Add("metadata", billing.CodeInvalidMetadata, "metadata keys must be 1 to %d characters", maxMetadataKeyLength)
			return
		}
	}
}

func customerOut(c billing.Customer) Customer {
	out := Customer{
		Id: c.ID, Object: CustomerObjectCustomer, Email: c.Email, Metadata: c.Metadata,
		Livemode: c.Mode == billing.ModeLive, CreatedAt: c.CreatedAt,
		FirstName: optional(c.FirstName), LastName: optional(c.LastName),
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if a := c.Address; a != nil {
		out.BillingAddress = &Address{Line1: optional(a.Line1), Line2: optional(a.Line2), City: optional(a.City),
			State: optional(a.State), PostalCode: optional(a.PostalCode), Country: a.Country}
	}
	return out
}

func addressIn(a *Address) *billing.Address {
	if a == nil {
		return nil
	}
	return &billing.Address{Line1: deref(a.Line1), Line2: deref(a.Line2), City: deref(a.City), State: deref(a.State),
		PostalCode: deref(a.PostalCode), Country: a.Country}
}

func metadataIn(m *Metadata) map[string]string {
	if m == nil {
		return nil
	}
	return *m
}

// nullableIn reads a PATCH field: nil when absent, "" when null (cleared).
func nullableIn(n interface {
	IsSpecified() bool
	IsNull() bool
	Get() (string, error)
}) *string {
	if !n.IsSpecified() {
		return nil
	}
	s := ""
	if !n.IsNull() {
		s, _ = n.Get()
	}
	return &s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

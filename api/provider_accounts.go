package api

import (
	"context"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/provideraccounts"
	"github.com/recurring/recurring/providers"
)

// CreateProviderAccount implements POST /v1/provider-accounts: the credentials are
// checked against the provider's fields, sealed by the store and never shown again.
func (s *server) CreateProviderAccount(ctx context.Context, req CreateProviderAccountRequestObject) (CreateProviderAccountResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	creds := billing.Credentials(b.Credentials)
	base, err := provideraccounts.Check(b.Provider, creds, deref(b.BaseUrl), caller.Mode)
	if err != nil {
		return nil, err
	}
	acc, err := s.store.CreateProviderAccount(ctx, caller, billing.NewProviderAccount{Provider: b.Provider, Name: b.Name,
		BaseURL: base, Credentials: creds, MaxChargesPerSecond: deref(b.MaxChargesPerSecond)})
	if err != nil {
		return nil, err
	}
	return CreateProviderAccount201JSONResponse(providerAccountOut(acc)), nil
}

// ListProviderAccounts implements GET /v1/provider-accounts.
func (s *server) ListProviderAccounts(ctx context.Context, req ListProviderAccountsRequestObject) (ListProviderAccountsResponseObject, error) {
	page, err := s.store.ListProviderAccounts(ctx, callerFrom(ctx),
		billing.ListParams{Limit: deref(req.Params.Limit), StartingAfter: deref(req.Params.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListProviderAccounts200JSONResponse{Object: ProviderAccountListObjectList, Data: []ProviderAccount{}, HasMore: page.HasMore}
	for _, a := range page.Items {
		out.Data = append(out.Data, providerAccountOut(a))
	}
	return out, nil
}

// GetProviderAccount implements GET /v1/provider-accounts/{id}.
func (s *server) GetProviderAccount(ctx context.Context, req GetProviderAccountRequestObject) (GetProviderAccountResponseObject, error) {
	acc, err := s.store.GetProviderAccount(ctx, callerFrom(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return GetProviderAccount200JSONResponse(providerAccountOut(acc)), nil
}

// UpdateProviderAccount implements PATCH /v1/provider-accounts/{id}: a new name or
// charge pace, which workers apply from the next charge on.
func (s *server) UpdateProviderAccount(ctx context.Context, req UpdateProviderAccountRequestObject) (UpdateProviderAccountResponseObject, error) {
	acc, err := s.store.UpdateProviderAccount(ctx, callerFrom(ctx), req.Id, req.Body.Name, req.Body.MaxChargesPerSecond)
	if err != nil {
		return nil, err
	}
	return UpdateProviderAccount200JSONResponse(providerAccountOut(acc)), nil
}

// DeleteProviderAccount implements DELETE /v1/provider-accounts/{id}.
func (s *server) DeleteProviderAccount(ctx context.Context, req DeleteProviderAccountRequestObject) (DeleteProviderAccountResponseObject, error) {
	if err := s.store.DeleteProviderAccount(ctx, callerFrom(ctx), req.Id); err != nil {
		return nil, err
	}
	return DeleteProviderAccount200JSONResponse{Id: req.Id, Object: string(ProviderAccountObjectProviderAccount), Deleted: true}, nil
}

func providerAccountOut(a billing.ProviderAccount) ProviderAccount {
	out := ProviderAccount{Id: a.ID, Object: ProviderAccountObjectProviderAccount, Provider: a.Provider, Name: a.Name,
		CredentialsSet: a.CredentialFields, MaxChargesPerSecond: a.MaxChargesPerSecond, Livemode: a.Mode == billing.ModeLive,
		CreatedAt: a.CreatedAt}
	if a.BaseURL != "" {
		out.BaseUrl = &a.BaseURL
	}
	return out
}

// adapter returns the adapter a card is charged through: the merchant's provider
// account when account is set, else the installation's provider.
func (s *server) adapter(ctx context.Context, caller billing.Caller, provider, account string) (providers.Provider, error) {
	if account == "" {
		return s.providers.Get(provider)
	}
	return provideraccounts.Resolver{Keys: s.store}.ForAccount(ctx, caller.MerchantID, account)
}

// accountAdapter resolves a provider_account a request names, as a 4xx naming param.
func (s *server) accountAdapter(ctx context.Context, caller billing.Caller, id, param string) (billing.ProviderAccount, providers.Provider, error) {
	acc, err := s.store.GetProviderAccount(ctx, caller, id)
	if err != nil {
		return acc, nil, withParam(err, param)
	}
	p, err := s.adapter(ctx, caller, acc.Provider, acc.ID)
	if err != nil {
		return acc, nil, withParam(providers.ToBilling(err), param)
	}
	return acc, p, nil
}

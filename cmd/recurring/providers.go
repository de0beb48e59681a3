package main

import (
	"fmt"
	"time"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/simulator"
	"github.com/recurring/recurring/providers/stripe"
	"github.com/recurring/recurring/store"
)

// providerSettings are the provider credentials a process was given.
type providerSettings struct {
	simulatorVaultKey []byte // nil: a random key, so simulator tokens die with the process
	stripeSecretKey   string // empty: Stripe is not offered
	stripeBaseURL     string
	aps               *aps.Config // nil: Amazon Payment Services is not offered
	// simulatorJournal keeps simulator answers across restarts (the app store's).
	simulatorJournal simulator.Journal
	// simulatorAnswerDelay widens the charged-but-not-answered window for crash drills.
	simulatorAnswerDelay time.Duration
}

// buildProviders returns the registry of configured providers: the simulator always,
// Stripe when a secret key is set, Amazon Payment Services when its account is.
func buildProviders(s providerSettings) (*providers.Registry, error) {
	sim, err := simulator.New(simulator.Options{
		VaultKey: s.simulatorVaultKey, Journal: s.simulatorJournal, AnswerDelay: s.simulatorAnswerDelay,
	})
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	ps := []providers.Provider{sim}
	if s.stripeSecretKey != "" {
		st, err := stripe.New(stripe.Config{SecretKey: s.stripeSecretKey, BaseURL: s.stripeBaseURL})
		if err != nil {
			return nil, fmt.Errorf("STRIPE_SECRET_KEY/STRIPE_BASE_URL: %w", err)
		}
		ps = append(ps, st)
	}
	if s.aps != nil {
		a, err := aps.New(*s.aps)
		if err != nil {
			return nil, fmt.Errorf("APS_*: %w", err)
		}
		ps = append(ps, a)
	}
	return providers.NewRegistry(ps...)
}

// providers returns the provider settings of an api, worker or dev process; the
// simulator journals its answers in db, the store the api and worker share.
func (pc ProviderConfig) providers(db *store.DB) providerSettings {
	key, _ := decodeVaultKey(pc.SimulatorVaultKey) // validated by parseConfig
	s := providerSettings{
		simulatorVaultKey: key, stripeSecretKey: pc.StripeSecretKey, stripeBaseURL: pc.StripeBaseURL,
		simulatorAnswerDelay: pc.SimulatorAnswerDelay,
	}
	if db != nil {
		s.simulatorJournal = db.SimulatorJournal()
	}
	if cfg, ok := pc.apsConfig(); ok {
		s.aps = &cfg
	}
	return s
}

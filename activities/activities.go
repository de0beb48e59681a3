// Package activities holds the engine's Temporal activities: thin calls into providers,
// the store and the notifier. Each activity is a method on Activities, which holds the
// dependencies as small interfaces; workflows call them through the typed wrappers in
// this package (one file per activity, with its request type), never by string name.
// Provider failures become Temporal errors in one place, errors.go; activity options
// live in one place, options.go.
package activities

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/metrics"
	"github.com/recurring/recurring/providers"
)

// ProviderLookup finds a configured provider by name; *providers.Registry is one.
type ProviderLookup interface {
	Get(name string) (providers.Provider, error)
}

// AccountProviders builds the adapter of a merchant's own provider account (pa_…).
type AccountProviders interface {
	ForAccount(ctx context.Context, merchantID, accountID string) (providers.Provider, error)
}

// Deps are the activities' dependencies. Providers and PaymentMethods are needed to
// charge, Ledger to record; a nil Notifier logs notifications instead of sending them.
type Deps struct {
	Providers ProviderLookup
	// Accounts charges cards saved in merchants' provider accounts; without it such a
	// card cannot be charged.
	Accounts       AccountProviders
	PaymentMethods billing.CardCharger
	Ledger         billing.Ledger
	// Refunds opens and settles refunds.
	Refunds billing.RefundLedger
	// Upcoming writes payment.upcoming events; without it only the customer is told.
	Upcoming billing.UpcomingPayments
	// PlanTerms writes plans' changed terms (PATCH /v1/plans/{id}).
	PlanTerms billing.PlanTermsWriter
	// Credentials is the outbox of detached cards still held at their providers.
	Credentials billing.CredentialRemovals
	Notifier    Notifier
	// Webhooks is the store as webhook delivery needs it.
	Webhooks billing.WebhookDeliveries
	// Sessions keeps hosted payment sessions: their outcomes, and plans' recovery pages.
	Sessions billing.PaymentSessionService
	// Plans changes a plan's card after a hosted card-change session.
	Plans PlanCards
	// PublicURL is where customers reach the API's hosted pages (scheme and host), for
	// the recovery links in webhooks and emails; without it they carry none.
	PublicURL string
	// Pacer spaces the charges of a provider account with a max_charges_per_second,
	// and of an installation provider with a rate in Rates, across every worker;
	// without it nothing is paced.
	Pacer ChargePacer
	// Rates is the installation providers' charges per second, by provider name.
	Rates map[string]int
	// Metrics counts charges, lag, dunning recoveries and webhook deliveries; nil
	// records nothing.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// Activities holds what activities need.
type Activities struct {
	deps Deps

	clientsOnce            sync.Once
	liveClient, testClient *http.Client
}

// New returns the activities with their dependencies.
func New(deps Deps) *Activities {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	return &Activities{deps: deps}
}

// Noop does nothing; the Baseline workflow uses it to measure the server's own cost of
// one activity.
func (a *Activities) Noop(ctx context.Context) error { return nil }

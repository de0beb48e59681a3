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
	"time"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/store"
)

// ProviderLookup finds a configured provider by name; *providers.Registry is one.
type ProviderLookup interface {
	Get(name string) (providers.Provider, error)
}

// PaymentMethods is the saved-card store as charging needs it; *store.DB is one.
type PaymentMethods interface {
	// ChargeableCard returns the merchant's saved card: provider, customer reference,
	// stored network transaction id, and the token when the card is active. A blocked
	// or detached card comes back with its flag set; a missing one (or another
	// merchant's) is a *billing.Error of KindNotFound.
	ChargeableCard(ctx context.Context, merchantID, paymentMethodID string) (store.ChargeableCard, error)
}

// Ledger is where plans, payment attempts and events are kept; *store.DB is one. Every
// method is idempotent, because activities are retried.
type Ledger interface {
	// CreatePlan inserts the plan unless it exists and reports whether it created it.
	CreatePlan(ctx context.Context, p store.Plan) (store.Plan, bool, error)
	// UpdatePlanState records a plan's status, next charge and payment method, with the
	// event announcing the change, unless a newer update (higher Seq) is stored.
	UpdatePlanState(ctx context.Context, u store.PlanUpdate) error
	// RecordPayment stores an attempt (insert-or-get on its idempotency key) with its
	// payment.succeeded / payment.failed event.
	RecordPayment(ctx context.Context, p store.Payment) (store.Payment, error)
	// FailedAttemptsSince lists when the card failed after since, across all plans.
	FailedAttemptsSince(ctx context.Context, merchantID, paymentMethodID string, since time.Time) ([]time.Time, error)
}

// Compile-time checks: the store is the ledger and the payment-method store.
var (
	_ Ledger         = (*store.DB)(nil)
	_ PaymentMethods = (*store.DB)(nil)
)

// Deps are the activities' dependencies. Providers and PaymentMethods are needed to
// charge, Ledger to record; a nil Notifier logs notifications instead of sending them.
type Deps struct {
	Providers      ProviderLookup
	PaymentMethods PaymentMethods
	Ledger         Ledger
	Notifier       Notifier
	// Webhooks is the store as webhook delivery needs it.
	Webhooks WebhookStore
	Logger   *slog.Logger
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

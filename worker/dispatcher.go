package worker

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// Dispatcher is the webhook outbox: it reads events not yet dispatched, starts one
// delivery workflow per matching enabled endpoint (workflow id
// workflows.WebhookDeliveryID, so a second start is a no-op), and only then marks the
// event dispatched. A process killed anywhere in between leaves the event undispatched
// and the next pass (of this or another process) starts what is missing: no event is
// lost, none is delivered twice by the engine (receivers still dedupe on webhook-id,
// since an attempt can be retried after the receiver took it). The plan and payment
// workflows are untouched: they only append events, in the same transaction as their
// ledger rows.
type Dispatcher struct {
	// Store is the event log and the endpoints it is delivered to.
	Store interface {
		billing.EventService
		billing.WebhookService
	}
	Temporal client.Client
	Logger   *slog.Logger
	// Interval between passes; 1 s when zero.
	Interval time.Duration
	// Schedule overrides workflows.DefaultWebhookSchedule (test-mode drills).
	Schedule []time.Duration
	// Credentials, when set, is the outbox of detached cards' credentials to remove
	// at their providers: each pass starts a RemoveCredential workflow for each.
	Credentials billing.CredentialRemovalOutbox
	// Cards, when set, announces saved cards about to expire and expired, once an
	// hour (payment_method.expiring, payment_method.expired), and tells their
	// customers through Notifier when one is set.
	Cards    billing.CardExpiryNotices
	Notifier billing.Notifier
}

// cardPassEvery is how often the card expiry pass runs: expiry is by the month.
const cardPassEvery = time.Hour

// Run dispatches until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	interval := d.Interval
	if interval == 0 {
		interval = time.Second
	}
	if d.Cards != nil {
		// Its own loop: emails sent one by one must not hold webhook dispatch.
		go d.runCardExpiry(ctx)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.Logger.WarnContext(ctx, "webhook dispatch", "error", err)
		}
		if _, err := d.PassCredentials(ctx); err != nil && ctx.Err() == nil {
			d.Logger.WarnContext(ctx, "credential removal dispatch", "error", err)
		}

		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass dispatches up to 100 events and reports how many it marked dispatched.
func (d *Dispatcher) Pass(ctx context.Context) (int, error) {
	events, err := d.Store.UndispatchedEvents(ctx, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range events {
		eps, err := d.Store.EnabledWebhookEndpoints(ctx, ev.MerchantID, ev.Mode, ev.Type)
		if err != nil {
			return n, err
		}
		for _, ep := range eps {
			if err := starter.StartWebhookDelivery(ctx, d.Temporal, workflows.WebhookDeliveryInput{
				DeliveryID: workflows.WebhookDeliveryID(ev.ID, ep.ID), MerchantID: ev.MerchantID,
				EventID: ev.ID, EndpointID: ep.ID, Schedule: d.Schedule,
			}); err != nil {
				return n, err
			}
		}
		if err := d.Store.MarkEventDispatched(ctx, ev.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// PassCredentials starts the removal workflow of up to 100 detached cards' credentials
// and reports how many it started. A start that fails leaves the row for the next pass;
// starting one twice joins the running workflow.
func (d *Dispatcher) PassCredentials(ctx context.Context) (int, error) {
	if d.Credentials == nil {
		return 0, nil
	}
	pending, err := d.Credentials.UnstartedCredentialRemovals(ctx, 100)
	if err != nil {
		return 0, err
	}
	for i, p := range pending {
		if err := starter.StartCredentialRemoval(ctx, d.Temporal, workflows.RemoveCredentialInput{MerchantID: p[0],
			PaymentMethodID: p[1]}); err != nil {
			return i, err
		}
		if err := d.Credentials.MarkCredentialRemovalStarted(ctx, p[1]); err != nil {
			return i, err
		}
	}
	return len(pending), nil
}

// runCardExpiry runs the card expiry pass now and then hourly until ctx ends; a failed
// pass is tried again at the next hour.
func (d *Dispatcher) runCardExpiry(ctx context.Context) {
	t := time.NewTicker(cardPassEvery)
	defer t.Stop()
	for {
		for {
			n, err := d.PassCardExpiry(ctx, time.Now())
			if err != nil && ctx.Err() == nil {
				d.Logger.WarnContext(ctx, "card expiry notices", "error", err)
			}
			if err != nil || n < cardPassBatch {
				break // done, or the next hour
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cardPassBatch is how many cards one call of PassCardExpiry announces at most.
const cardPassBatch = 500

// PassCardExpiry announces the cards expiring within 30 days of now, or expired, that
// were not announced so yet (up to cardPassBatch), and tells their customers, best
// effort (the event is the durable record; a failed email is logged, not retried). It
// reports how many notices it wrote.
func (d *Dispatcher) PassCardExpiry(ctx context.Context, now time.Time) (int, error) {
	notices, err := d.Cards.NoticeExpiringCards(ctx, now, cardPassBatch)
	for _, n := range notices {
		if d.Notifier == nil {
			continue
		}
		kind := billing.NotifyCardExpiring
		if n.Event == billing.EventPaymentMethodExpired {
			kind = billing.NotifyCardExpired
		}
		pm := n.PaymentMethod
		// Best effort: the event is written; an email that fails is logged.
		if nerr := d.Notifier.Notify(ctx, billing.Notification{Kind: kind, MerchantID: pm.MerchantID, Mode: pm.Mode,
			CustomerID: pm.CustomerID, PaymentMethodID: pm.ID, ExpiresAt: n.ExpiresAt,
			IdempotencyKey: "payment_method/" + pm.ID + "/" + kind}); nerr != nil {
			d.Logger.WarnContext(ctx, "card expiry notification failed", "payment_method_id", pm.ID, "error", nerr)
		}
	}
	return len(notices), err
}

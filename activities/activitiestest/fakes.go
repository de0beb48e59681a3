// Package activitiestest holds small hand-written fakes of the activities'
// dependencies, for workflow and activity tests: an in-memory ledger with the store's
// idempotency rules, a payment-method store, a notifier and a scripted provider.
package activitiestest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Compile-time checks that the fakes are what the activities need.
var (
	_ billing.Ledger            = (*Ledger)(nil)
	_ billing.CardCharger       = (*PaymentMethods)(nil)
	_ activities.Notifier       = (*Notifier)(nil)
	_ activities.ProviderLookup = Providers(nil)
	_ providers.Provider        = (*Provider)(nil)
)

// Ledger is an in-memory billing.Ledger with the store's rules: payments are
// insert-or-get on their idempotency key (a pending attempt with an unknown outcome
// is settled by a later record), events are deduplicated by key, plan updates with a
// lower sequence number are ignored.
type Ledger struct {
	mu       sync.Mutex
	plans    map[string]billing.Plan
	payments []billing.Payment
	events   []billing.Event
	// Calls counts RecordPayment calls, retries included.
	Calls int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{plans: map[string]billing.Plan{}} }

// CreatePlan inserts p unless it exists.
func (l *Ledger) CreatePlan(_ context.Context, p billing.Plan) (billing.Plan, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if got, ok := l.plans[p.ID]; ok {
		return got, false, nil
	}
	l.plans[p.ID] = p
	return p, true, nil
}

// UpdatePlanState applies u unless a newer update was stored.
func (l *Ledger) UpdatePlanState(_ context.Context, u billing.PlanUpdate) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.plans[u.PlanID]
	if !ok {
		return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no plan " + u.PlanID}
	}
	if u.Seq >= p.StateSeq {
		p.Status, p.NextChargeAt, p.StateSeq = u.Status, u.NextChargeAt, u.Seq
		if u.PaymentMethodID != "" {
			p.PaymentMethodID = u.PaymentMethodID
		}
		l.plans[u.PlanID] = p
	}
	if u.Event != nil {
		l.appendEvent(*u.Event)
	}
	return nil
}

// RecordPayment inserts or settles an attempt and emits its event.
func (l *Ledger) RecordPayment(_ context.Context, p billing.Payment) (billing.Payment, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Calls++
	i := slices.IndexFunc(l.payments, func(q billing.Payment) bool { return q.IdempotencyKey == p.IdempotencyKey })
	emit := false
	switch {
	case i < 0:
		p.ID = fmt.Sprintf("pay_%d", len(l.payments)+1)
		l.payments = append(l.payments, p)
		i, emit = len(l.payments)-1, true
	case l.payments[i].Status == billing.PaymentPending && l.payments[i].FailureClass != "":
		id := l.payments[i].ID
		l.payments[i] = p
		l.payments[i].ID = id
		emit = true
	}
	got := l.payments[i]
	if emit && got.Status != billing.PaymentPending {
		typ := billing.EventPaymentSucceeded
		if got.Status == billing.PaymentFailed {
			typ = billing.EventPaymentFailed
		}
		data, _ := json.Marshal(got)
		l.appendEvent(billing.Event{MerchantID: got.MerchantID, Mode: got.Mode, Type: typ, Data: data,
			IdempotencyKey: "payment/" + got.IdempotencyKey + "/" + string(got.Status)})
	}
	return got, nil
}

// FailedAttemptsSince lists the card's failures after since.
func (l *Ledger) FailedAttemptsSince(_ context.Context, merchantID, paymentMethodID string, since time.Time) ([]time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for _, p := range l.payments {
		failed := p.Status == billing.PaymentFailed || p.Status == billing.PaymentPending && p.FailureClass != ""
		if p.MerchantID == merchantID && p.PaymentMethodID == paymentMethodID && failed && p.AttemptedAt.After(since) {
			out = append(out, p.AttemptedAt)
		}
	}
	return out, nil
}

func (l *Ledger) appendEvent(ev billing.Event) {
	if slices.ContainsFunc(l.events, func(e billing.Event) bool { return e.IdempotencyKey == ev.IdempotencyKey }) {
		return
	}
	ev.ID = fmt.Sprintf("evt_%d", len(l.events)+1)
	l.events = append(l.events, ev)
}

// AddPayment puts a payment in the ledger directly, as if another plan had made it.
func (l *Ledger) AddPayment(p billing.Payment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.payments = append(l.payments, p)
}

// Payments returns the recorded attempts in order.
func (l *Ledger) Payments() []billing.Payment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.payments)
}

// Events returns the emitted events in order.
func (l *Ledger) Events() []billing.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// EventTypes returns the emitted events' types in order.
func (l *Ledger) EventTypes() []string {
	var out []string
	for _, e := range l.Events() {
		out = append(out, e.Type)
	}
	return out
}

// Plan returns a plan's row.
func (l *Ledger) Plan(id string) (billing.Plan, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.plans[id]
	return p, ok
}

// Card is a saved card in PaymentMethods.
type Card = billing.ChargeableCard

// PaymentMethods is an in-memory billing.CardCharger answering as store.DB does.
type PaymentMethods struct {
	mu    sync.Mutex
	cards map[string]Card // by payment method id
}

// NewPaymentMethods returns a store holding cards by payment method id.
func NewPaymentMethods(cards map[string]Card) *PaymentMethods {
	return &PaymentMethods{cards: cards}
}

// ChargeableCard returns a card (without its token unless active), or not found.
func (m *PaymentMethods) ChargeableCard(_ context.Context, _, paymentMethodID string) (billing.ChargeableCard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cards[paymentMethodID]
	if !ok {
		return billing.ChargeableCard{}, &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no payment method " + paymentMethodID}
	}
	c.PaymentMethodID = paymentMethodID
	if c.Blocked || c.Detached {
		c.Token = ""
	}
	return c, nil
}

// RecordNetworkTransactionID keeps the first network id recorded for a card.
func (m *PaymentMethods) RecordNetworkTransactionID(_ context.Context, _, paymentMethodID, nti string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.cards[paymentMethodID]; ok && c.NetworkTransactionID == "" && !c.Detached {
		c.NetworkTransactionID = nti
		m.cards[paymentMethodID] = c
	}
	return nil
}

// Card returns a card as stored.
func (m *PaymentMethods) Card(paymentMethodID string) Card {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cards[paymentMethodID]
}

// Set replaces a card.
func (m *PaymentMethods) Set(paymentMethodID string, c Card) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cards[paymentMethodID] = c
}

// Notifier records notifications.
type Notifier struct {
	mu   sync.Mutex
	sent []activities.Notification
}

// Notify records n.
func (n *Notifier) Notify(_ context.Context, note activities.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, note)
	return nil
}

// Sent returns the notifications in order.
func (n *Notifier) Sent() []activities.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sent)
}

// Providers is a provider registry by name.
type Providers map[string]providers.Provider

// Get returns the named provider.
func (ps Providers) Get(name string) (providers.Provider, error) {
	if p, ok := ps[name]; ok {
		return p, nil
	}
	return nil, &providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeUnknownProvider, Message: "no provider " + name}
}

// Call is one charge a Provider received.
type Call struct {
	providers.ChargeRequest
	// N counts calls with the same idempotency key, from 1.
	N int
}

// Provider is a scripted providers.Provider: Respond decides every charge's outcome
// (nil: every charge succeeds). It keeps the calls it received.
type Provider struct {
	ProviderName string
	Respond      func(c Call) (providers.ChargeResult, error)

	mu    sync.Mutex
	calls []Call
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.ProviderName }

// Capabilities offers recurring card charges.
func (p *Provider) Capabilities() []providers.Capability {
	return []providers.Capability{{Provider: p.ProviderName, Method: "card", Recurring: true}}
}

// SaveCard is not used by the plan workflow.
func (p *Provider) SaveCard(context.Context, providers.SaveCardRequest) (providers.SavedCard, error) {
	return providers.SavedCard{}, fmt.Errorf("fake provider: SaveCard: %w", providers.ErrNotSupported)
}

// Charge records the call and answers with Respond.
func (p *Provider) Charge(_ context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	p.mu.Lock()
	n := 1
	for _, c := range p.calls {
		if c.IdempotencyKey == req.IdempotencyKey {
			n++
		}
	}
	call := Call{ChargeRequest: req, N: n}
	p.calls = append(p.calls, call)
	respond := p.Respond
	p.mu.Unlock()
	if respond == nil {
		return Succeed(call)
	}
	return respond(call)
}

// Refund is not used by the plan workflow.
func (p *Provider) Refund(context.Context, providers.RefundRequest) (providers.RefundResult, error) {
	return providers.RefundResult{}, fmt.Errorf("fake provider: Refund: %w", providers.ErrNotSupported)
}

// Calls returns the charges received, in order.
func (p *Provider) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// Succeed is a successful answer to c.
func Succeed(c Call) (providers.ChargeResult, error) {
	return providers.ChargeResult{ID: "ch_" + c.IdempotencyKey, Status: providers.ChargeSucceeded,
		NetworkTransactionID: "nti_" + c.IdempotencyKey, Amount: c.Amount, Currency: c.Currency}, nil
}

// Decline returns a provider error of class and code.
func Decline(class providers.Class, code string) error {
	return &providers.Error{Class: class, Code: code, Provider: "fake", Message: "declined by the fake provider"}
}

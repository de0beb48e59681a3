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
	"sync/atomic"
	"time"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
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

// Ledger is an in-memory billing.Ledger with the store's rules, held to them by the
// contract suite (store/storetest, run in fakes_test.go): plans are created once and
// announce plan.created; plan updates with a lower sequence number change and announce
// nothing, a status or card change announces plan.updated unless the update names its
// event; payments are insert-or-get on their idempotency key (a pending attempt with an
// unknown outcome is settled by a later record); events are deduplicated by key and
// carry the object as the API renders it.
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

// CreatePlan inserts p unless it exists and announces it.
func (l *Ledger) CreatePlan(_ context.Context, p billing.Plan) (billing.Plan, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if got, ok := l.plans[p.ID]; ok {
		if got.MerchantID != p.MerchantID || got.Mode != p.Mode {
			return billing.Plan{}, false, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: "create plan: id taken"}
		}
		return l.withPaid(got), false, nil
	}
	if p.Type == "" {
		p.Type = "ecom"
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now()
	}
	p.UpdatedAt = p.CreatedAt
	l.plans[p.ID] = p
	l.appendPlanEvent(p, billing.EventPlanCreated, p.ID+"/created")
	return l.withPaid(p), true, nil
}

// UpdatePlanState applies u unless a newer update was stored, and announces it.
func (l *Ledger) UpdatePlanState(_ context.Context, u billing.PlanUpdate) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	before, ok := l.plans[u.PlanID]
	if !ok {
		return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no plan " + u.PlanID}
	}
	if u.Seq < before.StateSeq {
		return nil
	}
	after := before
	after.Status, after.NextChargeAt, after.StateSeq, after.UpdatedAt = u.Status, u.NextChargeAt, u.Seq, time.Now()
	if u.PaymentMethodID != "" {
		after.PaymentMethodID = u.PaymentMethodID
	}
	l.plans[u.PlanID] = after
	switch {
	case u.Event != nil:
		l.appendPlanEvent(after, u.Event.Type, u.Event.IdempotencyKey)
	case after.Status != before.Status || after.PaymentMethodID != before.PaymentMethodID:
		l.appendPlanEvent(after, billing.EventPlanUpdated, fmt.Sprintf("%s/state/%d/%s", u.PlanID, u.Seq, billing.EventPlanUpdated))
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
		if p.ID == "" {
			p.ID = fmt.Sprintf("pay_%d", len(l.payments)+1)
		}
		l.payments = append(l.payments, p)
		i, emit = len(l.payments)-1, true
	case l.payments[i].OutcomeUnknown():
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
		l.appendEvent(billing.Event{MerchantID: got.MerchantID, Mode: got.Mode, Type: typ,
			Data: eventData(rest.PaymentObject(got)), IdempotencyKey: "payment/" + got.IdempotencyKey + "/" + string(got.Status)})
	}
	return got, nil
}

// FailedAttemptsSince lists the card's failures after since.
func (l *Ledger) FailedAttemptsSince(_ context.Context, merchantID, paymentMethodID string, since time.Time) ([]time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for _, p := range l.payments {
		failed := p.Status == billing.PaymentFailed || p.OutcomeUnknown()
		if p.MerchantID == merchantID && p.PaymentMethodID == paymentMethodID && failed && p.AttemptedAt.After(since) {
			out = append(out, p.AttemptedAt)
		}
	}
	return out, nil
}

// withPaid counts what the plan collected, as the store does when it reads a plan.
func (l *Ledger) withPaid(p billing.Plan) billing.Plan {
	p.Paid, p.PaidAmount = 0, 0
	for _, pay := range l.payments {
		if pay.PlanID != nil && *pay.PlanID == p.ID && pay.Status == billing.PaymentSucceeded {
			p.Paid++
			p.PaidAmount += pay.Amount
		}
	}
	return p
}

func (l *Ledger) appendPlanEvent(p billing.Plan, typ, key string) {
	l.appendEvent(billing.Event{MerchantID: p.MerchantID, Mode: p.Mode, Type: typ,
		Data: eventData(rest.PlanObject(l.withPaid(p))), IdempotencyKey: key})
}

func eventData[T any](object T) billing.JSONDoc {
	data, err := json.Marshal(rest.EventData[T]{Object: object})
	if err != nil {
		panic(fmt.Sprintf("render event data: %v", err))
	}
	return data
}

func (l *Ledger) appendEvent(ev billing.Event) {
	if slices.ContainsFunc(l.events, func(e billing.Event) bool { return e.IdempotencyKey == ev.IdempotencyKey }) {
		return
	}
	ev.ID = fmt.Sprintf("evt_%d", len(l.events)+1)
	ev.CreatedAt = time.Now()
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

// ChangePlanTerms records a plan's new timetable and schedule with plan.updated, once
// per key (billing.PlanTermsWriter).
func (l *Ledger) ChangePlanTerms(_ context.Context, t billing.PlanTerms) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := "plan/" + t.Key + "/" + billing.EventPlanUpdated
	for _, e := range l.events {
		if e.IdempotencyKey == key {
			return nil
		}
	}
	p, ok := l.plans[t.PlanID]
	if !ok || p.MerchantID != t.MerchantID {
		return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no such plan"}
	}
	raw, err := json.Marshal(t.Timetable)
	if err != nil {
		return err
	}
	p.Timetable = raw
	schedule, err := t.Change.ApplyToSchedule(p.Schedule)
	if err != nil {
		return err
	}
	p.Schedule = schedule
	if len(t.MerchantData) > 0 {
		p.MerchantData = t.MerchantData
	}
	l.plans[t.PlanID] = p
	l.events = append(l.events, billing.Event{MerchantID: p.MerchantID, Type: billing.EventPlanUpdated, IdempotencyKey: key})
	return nil
}

// AnnounceUpcoming records payment.upcoming once per plan installment
// (billing.UpcomingPayments).
func (l *Ledger) AnnounceUpcoming(_ context.Context, u billing.UpcomingPayment) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := fmt.Sprintf("%s/upcoming/%d", u.PlanID, u.Installment)
	for _, e := range l.events {
		if e.IdempotencyKey == key {
			return nil
		}
	}
	l.events = append(l.events, billing.Event{MerchantID: u.MerchantID, Type: billing.EventPaymentUpcoming, IdempotencyKey: key})
	return nil
}

// Plan returns a plan's row.
func (l *Ledger) Plan(id string) (billing.Plan, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.plans[id]
	return l.withPaid(p), ok
}

// Card is a saved card in PaymentMethods.
type Card = billing.ChargeableCard

// PaymentMethods is an in-memory billing.CardCharger answering as store.DB does.
type PaymentMethods struct {
	mu     sync.Mutex
	cards  map[string]Card   // by payment method id
	owners map[string]string // merchant by payment method id, for cards added with Save
}

// NewPaymentMethods returns a store holding cards by payment method id.
func NewPaymentMethods(cards map[string]Card) *PaymentMethods {
	return &PaymentMethods{cards: cards}
}

// ChargeableCard returns a card (without its token unless active), or not found.
func (m *PaymentMethods) ChargeableCard(_ context.Context, merchantID, paymentMethodID string) (billing.ChargeableCard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cards[paymentMethodID]
	if owner, known := m.owners[paymentMethodID]; known && owner != merchantID {
		ok = false
	}
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

// KeepPayPalAgreement gives a PayPal method without a token its agreement, as the
// store does: the same token again is a no-op, anything else a conflict.
func (m *PaymentMethods) KeepPayPalAgreement(_ context.Context, _, paymentMethodID, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cards[paymentMethodID]
	switch {
	case !ok:
		return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no payment method " + paymentMethodID}
	case c.Type == billing.PaymentMethodPayPal && !c.Blocked && !c.Detached && c.Token == token && token != "":
		return nil
	case c.Type != billing.PaymentMethodPayPal || c.Token != "" || c.Blocked || c.Detached || token == "":
		return &billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition, Message: "not awaiting an agreement"}
	}
	c.Token = token
	m.cards[paymentMethodID] = c
	return nil
}

// Card returns a card as stored.
func (m *PaymentMethods) Card(paymentMethodID string) Card {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cards[paymentMethodID]
}

// Save adds a card that only merchantID can charge.
func (m *PaymentMethods) Save(merchantID, paymentMethodID string, c Card) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owners == nil {
		m.owners = map[string]string{}
	}
	m.owners[paymentMethodID] = merchantID
	m.cards[paymentMethodID] = c
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
	// Find answers FindCharge (nil: the provider has no such charge).
	Find func(req providers.ChargeRequest) (providers.ChargeResult, error)
	// Challenge makes 3-D Secure challenge every card (approved by the answer
	// "approve"); otherwise every card is authenticated frictionless.
	Challenge atomic.Bool
	// Agreement, when set, is the billing agreement a succeeded PayPal authentication
	// names (MethodToken); "" names none.
	Agreement func(req providers.CompleteAuthenticationRequest) string
	// RespondRefund answers Refund; nil: refunds are not supported.
	RespondRefund func(req providers.RefundRequest) (providers.RefundResult, error)
	// RespondDetach answers Detach; nil: every removal succeeds.
	RespondDetach func(req providers.DetachRequest) error

	mu       sync.Mutex
	refunds  []providers.RefundRequest
	detached []providers.DetachRequest
	calls    []Call
	lookups  []string
	begun    int
	canceled []string
}

var _ providers.AuthenticationCanceler = (*Provider)(nil)

// CancelAuthentication records the release of an authentication.
func (p *Provider) CancelAuthentication(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.canceled = append(p.canceled, id)
	return nil
}

// Canceled lists the authentications released, in order.
func (p *Provider) Canceled() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.canceled)
}

// Authentications counts the 3-D Secure authentications begun.
func (p *Provider) Authentications() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.begun
}

var _ providers.ChargeFinder = (*Provider)(nil)

// FindCharge records the lookup and answers with Find.
func (p *Provider) FindCharge(_ context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	p.mu.Lock()
	p.lookups = append(p.lookups, req.IdempotencyKey)
	find := p.Find
	p.mu.Unlock()
	if find == nil {
		return providers.ChargeResult{}, fmt.Errorf("fake provider: %w", providers.ErrNoSuchCharge)
	}
	return find(req)
}

// SetFind replaces Find while the provider may be in use.
func (p *Provider) SetFind(find func(req providers.ChargeRequest) (providers.ChargeResult, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Find = find
}

// Lookups returns the idempotency keys FindCharge was asked about, in order.
func (p *Provider) Lookups() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lookups)
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.ProviderName }

var _ providers.Authenticator = (*Provider)(nil)

// BeginAuthentication challenges when Challenge is set, else authenticates.
func (p *Provider) BeginAuthentication(_ context.Context, req providers.AuthenticationRequest) (providers.Authentication, error) {
	p.mu.Lock()
	p.begun++
	p.mu.Unlock()
	id := "3ds_fake_" + req.IdempotencyKey
	if p.Challenge.Load() {
		return providers.Authentication{ID: id, Status: providers.AuthenticationChallenge}, nil
	}
	return providers.Authentication{ID: id, Status: providers.AuthenticationSucceeded, ECI: "05", Proof: "cavv_" + id}, nil
}

// CompleteAuthentication authenticates on "approve" and fails otherwise.
func (p *Provider) CompleteAuthentication(_ context.Context, req providers.CompleteAuthenticationRequest) (providers.Authentication, error) {
	if req.Answer != "approve" {
		return providers.Authentication{ID: req.ID, Status: providers.AuthenticationFailed}, nil
	}
	out := providers.Authentication{ID: req.ID, Status: providers.AuthenticationSucceeded, ECI: "05", Proof: "cavv_" + req.ID}
	if req.Method == providers.MethodPayPal && p.Agreement != nil {
		out.MethodToken = p.Agreement(req)
	}
	return out, nil
}

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

// Refund records the request and answers with RespondRefund.
func (p *Provider) Refund(_ context.Context, req providers.RefundRequest) (providers.RefundResult, error) {
	p.mu.Lock()
	p.refunds = append(p.refunds, req)
	respond := p.RespondRefund
	p.mu.Unlock()
	if respond == nil {
		return providers.RefundResult{}, fmt.Errorf("fake provider: Refund: %w", providers.ErrNotSupported)
	}
	return respond(req)
}

// Detach records the removal and answers with RespondDetach (nil: removed).
func (p *Provider) Detach(_ context.Context, req providers.DetachRequest) error {
	p.mu.Lock()
	p.detached = append(p.detached, req)
	respond := p.RespondDetach
	p.mu.Unlock()
	if respond == nil {
		return nil
	}
	return respond(req)
}

// DetachCalls returns the removals asked for, in order.
func (p *Provider) DetachCalls() []providers.DetachRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.detached)
}

// RefundCalls returns the refunds asked for, in order.
func (p *Provider) RefundCalls() []providers.RefundRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.refunds)
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

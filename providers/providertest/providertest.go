// Package providertest is the contract every providers.Provider passes: save, charge,
// idempotent repeat, decline mapping, timeouts, refunds and capability answers. An
// adapter's test calls Run with a constructor and the cards its backend can simulate.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Decline is a card the provider declines and the classification the engine must get.
type Decline struct {
	Name string
	Card providers.Card
	// MerchantInitiated cards pass a customer-initiated charge and decline only the
	// recurring one that follows it.
	MerchantInitiated bool
	Class             providers.Class
	Code              string
	// RetryAfter, when set, is the hint the error must carry.
	RetryAfter time.Duration
}

// TestCards are the cards a backend can simulate.
type TestCards struct {
	// Success is charged successfully, any number of times.
	Success providers.Card
	// Declines are checked one by one; backends that cannot decline leave it empty.
	Declines []Decline
	// Timeout, when its Number is set, is a card whose charge never answers.
	Timeout providers.Card
}

// Option adjusts the suite to a backend's limits.
type Option func(*suite)

// Stateless tells the suite the backend answers from canned fixtures (stripe-mock): it
// neither replays idempotency keys nor declines. Those checks are skipped, naming reason.
func Stateless(reason string) Option {
	return func(s *suite) { s.stateless = reason }
}

// Card returns a test card with number, an expiry three years ahead and a CVC of the
// right length for its brand.
func Card(number string) providers.Card {
	cvc := "123"
	if providers.Brand(number) == providers.BrandAmex {
		cvc = "1234"
	}
	return providers.Card{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: cvc}
}

// ChainsByToken tells the suite the provider reports no network transaction id: it
// links recurring charges to the consent itself, by its token (Amazon Payment
// Services: token_name and agreement_id).
func ChainsByToken(reason string) Option {
	return func(s *suite) { s.chainsByToken = reason }
}

// RefundsWithoutKey tells the suite the provider takes no key for a refund (Axerve):
// a repeated refund is a second refund, so the caller must look the payment up before
// it retries one; the repeat check is skipped, naming reason.
func RefundsWithoutKey(reason string) Option {
	return func(s *suite) { s.refundsWithoutKey = reason }
}

type suite struct {
	newProvider       func(t *testing.T) providers.Provider
	cards             TestCards
	refundsWithoutKey string
	chainsByToken     string
	stateless         string
	run               string
	n                 atomic.Int64
}

// Run runs the contract. newProvider is called once per subtest, so state never leaks
// between them.
func Run(t *testing.T, newProvider func(t *testing.T) providers.Provider, cards TestCards, opts ...Option) {
	s := &suite{newProvider: newProvider, cards: cards, run: fmt.Sprintf("%x", time.Now().UnixNano())}
	for _, o := range opts {
		o(s)
	}
	if cards.Success.Number == "" {
		t.Fatal("providertest: TestCards.Success is required")
	}
	t.Run("capabilities", s.capabilities)
	t.Run("save card", s.saveCard)
	t.Run("save card rejects bad cards", s.saveRejects)
	t.Run("customer then merchant initiated", s.initialThenRecurring)
	t.Run("charge validates request", s.chargeValidates)
	t.Run("idempotent repeat", s.idempotentRepeat)
	t.Run("concurrent repeat", s.concurrentRepeat)
	t.Run("declines", s.declines)
	t.Run("expired deadline", s.expiredDeadline)
	t.Run("timeout card", s.timeoutCard)
	t.Run("refund", s.refund)
	t.Run("detach", s.detach)
	t.Run("find charge", s.findCharge)
}

func (s *suite) key(t *testing.T) string {
	return fmt.Sprintf("providertest/%s/%s/%d", s.run, t.Name(), s.n.Add(1))
}

func (s *suite) skipIfStateless(t *testing.T) {
	t.Helper()
	if s.stateless != "" {
		t.Skip(s.stateless)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func (s *suite) save(t *testing.T, p providers.Provider, c providers.Card) providers.SavedCard {
	t.Helper()
	saved, err := p.SaveCard(ctx(t), providers.SaveCardRequest{
		CustomerID: "cus_contract", Email: "contract@example.com", Name: "Contract Test", Card: c,
		IdempotencyKey: s.key(t),
	})
	if err != nil {
		t.Fatalf("SaveCard(%v): %v", c, err)
	}
	return saved
}

func (s *suite) chargeReq(t *testing.T, saved providers.SavedCard, init providers.Initiator) providers.ChargeRequest {
	return providers.ChargeRequest{
		Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 1050, Currency: "USD",
		IdempotencyKey: s.key(t), Initiator: init, Description: "contract test",
		Metadata: map[string]string{"plan_id": "plan_contract"},
	}
}

func wantError(t *testing.T, p providers.Provider, err error, class providers.Class, code string) *providers.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s/%s", class, code)
	}
	e, ok := providers.AsError(err)
	if !ok {
		t.Fatalf("got %T %v, want *providers.Error %s/%s", err, err, class, code)
	}
	if e.Class != class || e.Code != code {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Class, e.Code, err, class, code)
	}
	if e.Provider != p.Name() {
		t.Errorf("error provider = %q, want %q", e.Provider, p.Name())
	}
	if e.Retryable() != (class == providers.ClassTransient) {
		t.Errorf("Retryable() = %v for class %s", e.Retryable(), class)
	}
	if e.RetryLater() != (class == providers.ClassSoftDecline) {
		t.Errorf("RetryLater() = %v for class %s", e.RetryLater(), class)
	}
	return e
}

func (s *suite) capabilities(t *testing.T) {
	p := s.newProvider(t)
	caps := p.Capabilities()
	if len(caps) == 0 {
		t.Fatal("no capabilities")
	}
	for _, c := range caps {
		if c.Provider != p.Name() {
			t.Errorf("capability %+v names provider %q, want %q", c, c.Provider, p.Name())
		}
	}
	card, ok := providers.Find(caps, providers.MethodCard)
	if !ok {
		t.Fatalf("capabilities %+v have no %q row", caps, providers.MethodCard)
	}
	b, err := json.Marshal(caps)
	if err != nil || !strings.Contains(string(b), `"recurring":`) {
		t.Fatalf("capabilities do not render as JSON: %s %v", b, err)
	}

	reg, err := providers.NewRegistry(p)
	if err != nil {
		t.Fatal(err)
	}
	err = reg.CheckRecurring(p.Name(), providers.MethodCard)
	if card.Recurring && err != nil {
		t.Errorf("CheckRecurring(card) = %v, but the matrix says recurring is supported", err)
	}
	if !card.Recurring {
		wantError(t, p, err, providers.ClassHardDecline, billing.CodeRecurringNotSupported)
	}
	err = reg.CheckRecurring(p.Name(), "no_such_method")
	wantError(t, p, err, providers.ClassHardDecline, billing.CodeRecurringNotSupported)
	if !errors.Is(err, providers.ErrNotSupported) {
		t.Errorf("recurring_not_supported does not wrap ErrNotSupported: %v", err)
	}
}

func (s *suite) saveCard(t *testing.T) {
	p := s.newProvider(t)
	c := s.cards.Success
	saved := s.save(t, p, c)
	if saved.Token == "" || saved.CustomerRef == "" || saved.Fingerprint == "" {
		t.Fatalf("SaveCard = %+v: token, customer ref and fingerprint are required", saved)
	}
	if saved.Brand != c.Brand() || saved.Last4 != c.Last4() || saved.ExpMonth != c.ExpMonth || saved.ExpYear != c.ExpYear {
		t.Errorf("SaveCard = %+v, want brand %s last4 %s exp %d/%d", saved, c.Brand(), c.Last4(), c.ExpMonth, c.ExpYear)
	}
	if strings.Contains(saved.Token, c.Number) {
		t.Error("the token contains the card number")
	}

	// A second card for the same provider customer stays with that customer.
	again, err := p.SaveCard(ctx(t), providers.SaveCardRequest{
		CustomerID: "cus_contract", ProviderCustomerRef: saved.CustomerRef, Card: c, IdempotencyKey: s.key(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if again.CustomerRef != saved.CustomerRef {
		t.Errorf("second card went to customer %q, want %q", again.CustomerRef, saved.CustomerRef)
	}
	if again.Fingerprint != saved.Fingerprint {
		t.Errorf("same card, different fingerprints: %q vs %q", again.Fingerprint, saved.Fingerprint)
	}
}

func (s *suite) saveRejects(t *testing.T) {
	p := s.newProvider(t)
	bad := s.cards.Success
	last := bad.Number[len(bad.Number)-1] - '0'
	bad.Number = fmt.Sprintf("%s%d", bad.Number[:len(bad.Number)-1], (last+1)%10) // breaks the Luhn check
	_, err := p.SaveCard(ctx(t), providers.SaveCardRequest{CustomerID: "cus_contract", Card: bad})
	if e := wantError(t, p, err, providers.ClassHardDecline, billing.CodeInvalidCardNumber); e.Param != "number" {
		t.Errorf("param = %q, want number", e.Param)
	}
	if strings.Contains(err.Error(), bad.Number) {
		t.Error("the error message contains the card number")
	}

	expired := s.cards.Success
	expired.ExpYear = time.Now().Year() - 1
	_, err = p.SaveCard(ctx(t), providers.SaveCardRequest{CustomerID: "cus_contract", Card: expired})
	wantError(t, p, err, providers.ClassHardDecline, billing.CodeCardExpired)
}

func (s *suite) initialThenRecurring(t *testing.T) {
	p := s.newProvider(t)
	saved := s.save(t, p, s.cards.Success)

	cit, err := p.Charge(ctx(t), s.chargeReq(t, saved, providers.InitiatorCustomer))
	if err != nil {
		t.Fatalf("initial charge: %v", err)
	}
	if cit.ID == "" || cit.Status != providers.ChargeSucceeded || cit.Amount != 1050 || cit.Currency != "USD" {
		t.Fatalf("initial charge = %+v, want a succeeded 1050 USD charge with an id", cit)
	}
	if cit.NetworkTransactionID == "" && s.chainsByToken == "" {
		t.Fatal("initial charge has no network transaction id to chain recurring charges to")
	}

	req := s.chargeReq(t, saved, providers.InitiatorMerchant)
	req.NetworkTransactionID = cit.NetworkTransactionID
	mit, err := p.Charge(ctx(t), req)
	if err != nil {
		t.Fatalf("recurring charge: %v", err)
	}
	if mit.ID == "" || mit.Status != providers.ChargeSucceeded {
		t.Fatalf("recurring charge = %+v", mit)
	}
	if s.stateless == "" && mit.ID == cit.ID {
		t.Errorf("recurring charge reused the initial charge's id %q", cit.ID)
	}
}

func (s *suite) chargeValidates(t *testing.T) {
	p := s.newProvider(t)
	saved := s.save(t, p, s.cards.Success)
	cases := []struct {
		name   string
		mutate func(*providers.ChargeRequest)
		code   string
	}{
		{"no idempotency key", func(r *providers.ChargeRequest) { r.IdempotencyKey = "" }, billing.CodeIdempotencyKeyRequired},
		{"zero amount", func(r *providers.ChargeRequest) { r.Amount = 0 }, billing.CodeInvalidAmount},
		{"lower-case currency", func(r *providers.ChargeRequest) { r.Currency = "usd" }, billing.CodeInvalidCurrency},
		{"no token", func(r *providers.ChargeRequest) { r.Token = "" }, billing.CodePaymentMethodNotFound},
		{"no initiator", func(r *providers.ChargeRequest) { r.Initiator = "" }, billing.CodeInvalidRequest},
		{"unknown method", func(r *providers.ChargeRequest) { r.Method = "sepa_debit" }, billing.CodeInvalidRequest},
	}
	if _, ok := providers.Find(p.Capabilities(), providers.MethodPayPal); !ok {
		// A card-only adapter must not send a PayPal agreement's token as a card.
		cases = append(cases, struct {
			name   string
			mutate func(*providers.ChargeRequest)
			code   string
		}{"paypal on a card-only provider", func(r *providers.ChargeRequest) { r.Method = providers.MethodPayPal }, billing.CodePaymentMethodUnusable})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := s.chargeReq(t, saved, providers.InitiatorCustomer)
			tc.mutate(&req)
			_, err := p.Charge(ctx(t), req)
			wantError(t, p, err, providers.ClassInvalidRequest, tc.code)
		})
	}
}

func (s *suite) idempotentRepeat(t *testing.T) {
	s.skipIfStateless(t)
	p := s.newProvider(t)
	saved := s.save(t, p, s.cards.Success)
	req := s.chargeReq(t, saved, providers.InitiatorCustomer)

	first, err := p.Charge(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Charge(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("repeat with the same key = %+v, want the first result %+v", again, first)
	}

	other := req
	other.IdempotencyKey = s.key(t)
	second, err := p.Charge(ctx(t), other)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID {
		t.Errorf("a new key returned the old charge %q", first.ID)
	}

	changed := req
	changed.Amount++
	_, err = p.Charge(ctx(t), changed)
	wantError(t, p, err, providers.ClassInvalidRequest, billing.CodeIdempotencyConflict)
}

func (s *suite) concurrentRepeat(t *testing.T) {
	s.skipIfStateless(t)
	p := s.newProvider(t)
	saved := s.save(t, p, s.cards.Success)
	req := s.chargeReq(t, saved, providers.InitiatorCustomer)

	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := p.Charge(ctx(t), req)
			ids[i], errs[i] = r.ID, err
		})
	}
	wg.Wait()
	var id string
	for i := range n {
		if errs[i] != nil {
			// A provider may refuse a concurrent duplicate, but only as a retryable error.
			if e, ok := providers.AsError(errs[i]); !ok || !e.Retryable() {
				t.Errorf("concurrent repeat failed with a non-retryable error: %v", errs[i])
			}
			continue
		}
		if id == "" {
			id = ids[i]
		}
		if ids[i] != id {
			t.Errorf("one idempotency key produced two charges: %q and %q", id, ids[i])
		}
	}
	if id == "" {
		t.Error("no concurrent call succeeded")
	}
}

func (s *suite) declines(t *testing.T) {
	s.skipIfStateless(t)
	if len(s.cards.Declines) == 0 {
		t.Skip("the backend simulates no declines")
	}
	for _, d := range s.cards.Declines {
		t.Run(d.Name, func(t *testing.T) {
			p := s.newProvider(t)
			saved := s.save(t, p, d.Card)
			init := providers.InitiatorCustomer
			var ntid string
			if d.MerchantInitiated {
				cit, err := p.Charge(ctx(t), s.chargeReq(t, saved, providers.InitiatorCustomer))
				if err != nil {
					t.Fatalf("initial charge: %v", err)
				}
				init, ntid = providers.InitiatorMerchant, cit.NetworkTransactionID
			}
			req := s.chargeReq(t, saved, init)
			req.NetworkTransactionID = ntid
			_, err := p.Charge(ctx(t), req)
			e := wantError(t, p, err, d.Class, d.Code)
			if d.RetryAfter != 0 && e.RetryAfter != d.RetryAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, d.RetryAfter)
			}
			if d.Class == providers.ClassHardDecline && e.RetryAfter != 0 {
				t.Errorf("a hard decline carries RetryAfter %v", e.RetryAfter)
			}

			// A decline is the key's answer too: the repeat replays it.
			_, again := p.Charge(ctx(t), req)
			if providers.CodeOf(again) != d.Code {
				t.Errorf("repeat with the same key = %v, want the first decline %s", again, d.Code)
			}
		})
	}
}

func (s *suite) expiredDeadline(t *testing.T) {
	p := s.newProvider(t)
	saved := s.save(t, p, s.cards.Success)
	c, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := p.Charge(c, s.chargeReq(t, saved, providers.InitiatorCustomer))
	wantError(t, p, err, providers.ClassTransient, billing.CodeTimeout)
}

func (s *suite) timeoutCard(t *testing.T) {
	s.skipIfStateless(t)
	if s.cards.Timeout.Number == "" {
		t.Skip("the backend has no card that never answers")
	}
	p := s.newProvider(t)
	saved := s.save(t, p, s.cards.Timeout)
	c, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Charge(c, s.chargeReq(t, saved, providers.InitiatorCustomer))
	wantError(t, p, err, providers.ClassTransient, billing.CodeTimeout)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the call outlived its deadline by %v", waited)
	}
}

func (s *suite) refund(t *testing.T) {
	p := s.newProvider(t)
	card, _ := providers.Find(p.Capabilities(), providers.MethodCard)
	saved := s.save(t, p, s.cards.Success)
	charge, err := p.Charge(ctx(t), s.chargeReq(t, saved, providers.InitiatorCustomer))
	if err != nil {
		t.Fatal(err)
	}
	req := providers.RefundRequest{ChargeID: charge.ID, Amount: 50, Currency: "USD", IdempotencyKey: s.key(t)}
	r, err := p.Refund(ctx(t), req)
	if !card.Refunds {
		if !errors.Is(err, providers.ErrNotSupported) {
			t.Fatalf("Refund on a provider without refunds = %v, want ErrNotSupported", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Amount != 50 {
		t.Fatalf("Refund = %+v, want an id and amount 50", r)
	}
	_, err = p.Refund(ctx(t), providers.RefundRequest{ChargeID: charge.ID, Amount: 50, Currency: "USD"})
	wantError(t, p, err, providers.ClassInvalidRequest, billing.CodeIdempotencyKeyRequired)

	if s.stateless != "" {
		return
	}
	if s.refundsWithoutKey != "" {
		t.Log("repeat check skipped: " + s.refundsWithoutKey)
		return
	}
	again, err := p.Refund(ctx(t), req)
	if err != nil || again != r {
		t.Errorf("repeat refund = %+v, %v; want the first %+v", again, err, r)
	}
}

// detach: a detached card cannot be charged again, and detaching it twice is no error
// (or says it is gone). A provider that cannot remove stored credentials says
// ErrNotSupported.
func (s *suite) detach(t *testing.T) {
	p := s.newProvider(t)
	saved := s.save(t, p, s.cards.Success)
	err := p.Detach(ctx(t), providers.DetachRequest{Token: saved.Token, CustomerRef: saved.CustomerRef})
	if errors.Is(err, providers.ErrNotSupported) {
		t.Skip("the provider removes no stored credentials")
	}
	if err != nil {
		t.Fatalf("Detach = %v", err)
	}
	if err := p.Detach(ctx(t), providers.DetachRequest{Token: saved.Token, CustomerRef: saved.CustomerRef}); err != nil && !providers.IsGone(err) {
		t.Errorf("Detach again = %v, want nil or gone", err)
	}
	if s.stateless != "" {
		t.Log("charge after detach skipped: " + s.stateless)
		return
	}
	if _, err := p.Charge(ctx(t), s.chargeReq(t, saved, providers.InitiatorMerchant)); err == nil {
		t.Error("a detached card was charged")
	}
}

// findCharge: a provider that can look charges up finds the one made under a key
// (its result, or its decline) and answers ErrNoSuchCharge for a key never charged, so
// the engine resolves a lost answer instead of guessing.
func (s *suite) findCharge(t *testing.T) {
	p := s.newProvider(t)
	f, ok := p.(providers.ChargeFinder)
	if !ok {
		t.Skipf("%s cannot look charges up (no providers.ChargeFinder)", p.Name())
	}
	saved := s.save(t, p, s.cards.Success)
	never := s.chargeReq(t, saved, providers.InitiatorMerchant)
	if _, err := f.FindCharge(ctx(t), never); !errors.Is(err, providers.ErrNoSuchCharge) {
		t.Fatalf("FindCharge of a key never charged = %v, want ErrNoSuchCharge", err)
	}
	if _, err := f.FindCharge(ctx(t), providers.ChargeRequest{}); err == nil || errors.Is(err, providers.ErrNoSuchCharge) {
		t.Errorf("FindCharge of an invalid request = %v, want a validation error", err)
	}
	s.skipIfStateless(t)
	req := s.chargeReq(t, saved, providers.InitiatorCustomer)
	made, err := p.Charge(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	found, err := f.FindCharge(ctx(t), req)
	if err != nil || found.ID != made.ID || found.Status != made.Status || found.Amount != made.Amount {
		t.Errorf("FindCharge = %+v, %v; want the charge made %+v", found, err, made)
	}
	// A card the engine no longer holds (detached): the key alone finds the charge.
	byKey := req
	byKey.Token = ""
	if got, err := f.FindCharge(ctx(t), byKey); err != nil || got.ID != made.ID {
		t.Errorf("FindCharge without the card's token = %+v, %v; want %s", got, err, made.ID)
	}
	byKey.Amount++
	if _, err := f.FindCharge(ctx(t), byKey); providers.CodeOf(err) != billing.CodeIdempotencyConflict || !providers.IsFound(err) {
		t.Errorf("FindCharge of the key for another amount = %v, want a found idempotency conflict", err)
	}
	for _, d := range s.cards.Declines {
		if d.MerchantInitiated {
			continue
		}
		declined := s.chargeReq(t, s.save(t, p, d.Card), providers.InitiatorCustomer)
		if _, err := p.Charge(ctx(t), declined); providers.CodeOf(err) != d.Code {
			t.Fatalf("charge of %s = %v, want %s", d.Name, err, d.Code)
		}
		_, err := f.FindCharge(ctx(t), declined)
		wantError(t, p, err, d.Class, d.Code)
		if !providers.IsFound(err) {
			t.Errorf("the decline FindCharge found is not marked providers.Found: %v", err)
		}
		break
	}
}

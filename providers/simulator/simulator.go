package simulator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Name is the simulator's default registry name.
const Name = "simulator"

// DefaultTimeout bounds a simulator call when Options.Timeout is zero. It is short: the
// simulator only waits on purpose (latency knob, the always-times-out card).
const DefaultTimeout = 10 * time.Second

// Options configures a Simulator. The zero value is a working simulator with a random
// vault key.
type Options struct {
	// Name overrides the registry name, to run several simulators side by side.
	Name string
	// VaultKey seals tokens; at least 16 bytes. Empty means a random key, so tokens die
	// with the process; pass a stable key to keep them across restarts.
	VaultKey []byte
	// Timeout bounds every call even when the caller's context has no deadline.
	Timeout time.Duration
	// Latency delays every call, to make load tests look like a real provider.
	Latency time.Duration
	// LatencyJitter adds a uniformly drawn extra delay in [0, LatencyJitter).
	LatencyJitter time.Duration
	// FailureRate in [0, 1] is the fraction of charges failing with a transient
	// processing_error before anything is charged.
	FailureRate float64
	// Seed seeds the generator behind LatencyJitter and FailureRate, so a run repeats.
	Seed uint64
	// Capabilities replaces the default matrix (card, recurring, refunds), for example to
	// exercise recurring_not_supported. The Provider field is filled in.
	Capabilities []providers.Capability
	// Now is the clock for expiry checks and ledger times; time.Now when nil.
	Now func() time.Time
	// Journal keeps each idempotency key's answer beyond this process. Nil keeps it in
	// memory only, which is enough for one process but not for a worker that restarts.
	Journal Journal
	// AnswerDelay holds the answer back after a charge is committed, so crash drills
	// can kill the caller between the charge and its answer — the window in which only
	// the idempotency key prevents a second charge.
	AnswerDelay time.Duration
}

// LedgerEntry is one charge that moved money. Tests count these to prove that retries
// and replays never charge twice.
type LedgerEntry struct {
	ChargeID       string
	IdempotencyKey string
	CustomerRef    string
	Fingerprint    string
	Brand          string
	Last4          string
	Amount         int64
	Currency       string
	Initiator      providers.Initiator
	// NetworkTransactionID is this charge's own network id.
	NetworkTransactionID string
	// InitialNetworkTransactionID is the id a merchant-initiated charge referenced.
	InitialNetworkTransactionID string
	Description                 string
	Metadata                    map[string]string
	Refunded                    int64
	At                          time.Time
}

// RefundEntry is one refund that returned money.
type RefundEntry struct {
	RefundID       string
	ChargeID       string
	IdempotencyKey string
	Amount         int64
	Currency       string
	At             time.Time
}

// Simulator is the in-process provider. It is safe for concurrent use.
type Simulator struct {
	name        string
	vault       *vault
	timeout     time.Duration
	latency     time.Duration
	jitter      time.Duration
	failureRate float64
	caps        []providers.Capability
	now         func() time.Time

	mu         sync.Mutex
	rng        *mrand.Rand
	seq        uint64
	charges    map[string]*attempt // idempotency key → first attempt
	retried    map[string]bool     // keys whose first attempt hit the processing-error card
	successes  map[string]int      // card fingerprint → successful charges
	saves      map[string]providers.SavedCard
	ledger     []LedgerEntry
	byChargeID map[string]int
	refunds    []RefundEntry
	refundKeys map[string]*refundAttempt
	// detached holds the MACs of the tokens Detach removed: their cards are gone.
	detached map[string]bool

	journal     Journal
	answerDelay time.Duration
	// instance keeps charge ids unique across processes sharing a journal.
	instance string
}

var _ providers.Provider = (*Simulator)(nil)

// New builds a simulator.
func New(opts Options) (*Simulator, error) {
	name := opts.Name
	if name == "" {
		name = Name
	}
	key := opts.VaultKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("simulator vault key: %w", err)
		}
	}
	v, err := newVault(key, name)
	if err != nil {
		return nil, err
	}
	if opts.FailureRate < 0 || opts.FailureRate > 1 {
		return nil, fmt.Errorf("simulator failure rate %v is outside [0, 1]", opts.FailureRate)
	}
	if opts.Latency < 0 || opts.LatencyJitter < 0 || opts.Timeout < 0 {
		return nil, errors.New("simulator durations must not be negative")
	}
	caps := opts.Capabilities
	if caps == nil {
		caps = []providers.Capability{{Method: providers.MethodCard, Recurring: true, Refunds: true, ThreeDS: true, MOTO: true, HostedPage: true}}
	}
	caps = slices.Clone(caps)
	for i := range caps {
		caps[i].Provider = name
	}
	s := &Simulator{
		name:        name,
		vault:       v,
		timeout:     orDefault(opts.Timeout, DefaultTimeout),
		latency:     opts.Latency,
		jitter:      opts.LatencyJitter,
		failureRate: opts.FailureRate,
		caps:        caps,
		now:         opts.Now,
		rng:         mrand.New(mrand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		charges:     map[string]*attempt{},
		retried:     map[string]bool{},
		successes:   map[string]int{},
		saves:       map[string]providers.SavedCard{},
		byChargeID:  map[string]int{},
		refundKeys:  map[string]*refundAttempt{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.journal, s.answerDelay = opts.Journal, opts.AnswerDelay
	inst := make([]byte, 4)
	_, _ = rand.Read(inst)
	s.instance = fmt.Sprintf("%x", inst)
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Name returns the registry name.
func (s *Simulator) Name() string { return s.name }

// String names the simulator without its keys.
func (s *Simulator) String() string { return "simulator(" + s.name + ")" }

// GoString keeps %#v from printing the vault keys.
func (s *Simulator) GoString() string { return s.String() }

// LogValue keeps slog from printing the vault keys.
func (s *Simulator) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Capabilities returns the matrix rows.
func (s *Simulator) Capabilities() []providers.Capability { return slices.Clone(s.caps) }

// Charges returns the ledger of successful charges, oldest first.
func (s *Simulator) Charges() []LedgerEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.ledger)
	for i := range out {
		out[i].Metadata = maps.Clone(out[i].Metadata)
	}
	return out
}

// Refunds returns the ledger of refunds, oldest first.
func (s *Simulator) Refunds() []RefundEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refunds)
}

// SaveCard validates the card, seals it into a token and returns its display data.
func (s *Simulator) SaveCard(ctx context.Context, req providers.SaveCardRequest) (providers.SavedCard, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.wait(ctx); err != nil {
		return providers.SavedCard{}, err
	}
	card, err := providers.CheckCard(req.Card, s.now())
	if err != nil {
		return providers.SavedCard{}, s.own(err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if req.IdempotencyKey != "" {
		if saved, ok := s.saves[req.IdempotencyKey]; ok {
			return saved, nil
		}
	}
	customer := req.ProviderCustomerRef
	if customer == "" {
		id := req.CustomerID
		if id == "" {
			s.seq++
			id = fmt.Sprintf("anonymous-%d", s.seq)
		}
		customer = "cus_sim_" + s.vault.mac("customer:"+id)
	}
	token, err := s.vault.seal(storedCard{Number: card.Number, ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, CustomerRef: customer})
	if err != nil {
		return providers.SavedCard{}, err
	}
	saved := providers.SavedCard{
		Token:       token,
		CustomerRef: customer,
		Brand:       card.Brand(),
		Last4:       card.Last4(),
		ExpMonth:    card.ExpMonth,
		ExpYear:     card.ExpYear,
		Fingerprint: s.vault.fingerprint(card.Number),
	}
	if req.IdempotencyKey != "" {
		s.saves[req.IdempotencyKey] = saved
	}
	return saved, nil
}

// Charge charges a saved card once per idempotency key; see the package documentation
// for the test cards and the replay rules.
func (s *Simulator) Charge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.Validate(); err != nil {
		return providers.ChargeResult{}, s.own(err)
	}
	if err := providers.CheckMethod(s.Capabilities(), req); err != nil {
		return providers.ChargeResult{}, s.own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	fp := fmt.Sprintf("%s|%d|%s|%s", req.Token, req.Amount, req.Currency, req.Initiator)
	s.mu.Lock()
	if a, ok := s.charges[req.IdempotencyKey]; ok {
		s.mu.Unlock()
		if a.request != fp {
			return providers.ChargeResult{}, s.fail(billing.CodeIdempotencyConflict,
				"this idempotency key was used for a different charge")
		}
		select {
		case <-a.done:
			return a.res, a.err
		case <-ctx.Done():
			return providers.ChargeResult{}, providers.TransportError(s.name, ctx.Err())
		}
	}
	a := &attempt{request: fp, done: make(chan struct{})}
	s.charges[req.IdempotencyKey] = a
	s.mu.Unlock()

	res, keep, entry, err := s.answer(ctx, req, fp)

	s.mu.Lock()
	a.res, a.err = res, err
	if !keep {
		// Transient failures are not the key's result: the retry must execute.
		delete(s.charges, req.IdempotencyKey)
	}
	if entry != nil {
		s.byChargeID[entry.ChargeID] = len(s.ledger)
		s.ledger = append(s.ledger, *entry)
	}
	s.mu.Unlock()
	close(a.done)
	if err == nil && entry != nil && s.answerDelay > 0 {
		select {
		case <-time.After(s.answerDelay):
		case <-ctx.Done():
			return providers.ChargeResult{}, providers.TransportError(s.name, ctx.Err())
		}
	}
	return res, err
}

// charge runs one attempt. keep reports whether the outcome is the idempotency key's
// final answer (everything but transient failures).
func (s *Simulator) charge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, bool, *LedgerEntry, error) {
	if err := s.wait(ctx); err != nil {
		return providers.ChargeResult{}, false, nil, err
	}
	card, err := s.vault.open(req.Token)
	if err != nil {
		return providers.ChargeResult{}, true, nil, s.fail(billing.CodePaymentMethodNotFound, err.Error())
	}
	if s.isDetached(req.Token) {
		return providers.ChargeResult{}, true, nil, s.fail(billing.CodePaymentMethodNotFound, "the card was detached")
	}
	if req.CustomerRef != "" && req.CustomerRef != card.CustomerRef {
		return providers.ChargeResult{}, true, nil, s.fail(billing.CodePaymentMethodNotFound,
			"the card belongs to another customer")
	}
	c, ok := providers.Find(s.caps, providers.MethodCard)
	if !ok {
		e := s.fail(billing.CodeCardNotSupported, "cards are not enabled on this simulator")
		e.Err = providers.ErrNotSupported
		return providers.ChargeResult{}, true, nil, e
	}
	if req.Initiator == providers.InitiatorMerchant && !c.Recurring {
		return providers.ChargeResult{}, true, nil, providers.RecurringNotSupported(s.name, providers.MethodCard)
	}
	if !c.SupportsCurrency(req.Currency) {
		e := s.fail(billing.CodeCurrencyNotSupported, "currency not supported")
		e.Class = providers.ClassHardDecline
		return providers.ChargeResult{}, true, nil, e
	}

	brand := providers.Brand(card.Number)
	fingerprint := s.vault.fingerprint(card.Number)
	out := testCards[card.Number]

	s.mu.Lock()
	s.seq++
	seq := s.seq
	injected := s.failureRate > 0 && s.rng.Float64() < s.failureRate
	firstTry := out.special == failFirstAttempt && !s.retried[req.IdempotencyKey]
	if firstTry {
		s.retried[req.IdempotencyKey] = true
	}
	s.mu.Unlock()
	chargeID := fmt.Sprintf("ch_sim_%s%010d", s.instance, seq)

	switch {
	case injected || firstTry:
		return providers.ChargeResult{}, false, nil, providers.Classify(providers.Failure{
			Provider: s.name, Reason: "processing_error", ChargeID: chargeID,
			Message: "simulated processing error; retry with the same idempotency key",
		})
	case out.special == neverAnswer:
		<-ctx.Done()
		return providers.ChargeResult{}, false, nil, providers.TransportError(s.name, ctx.Err())
	}

	// Deciding and recording under one lock keeps "succeeds once" true under concurrency.
	s.mu.Lock()
	defer s.mu.Unlock()
	decline := out.reason != ""
	// An issuer that requires SCA declines a customer-initiated charge without a valid
	// proof (not a MOTO order: there is no cardholder to authenticate).
	if threeDSCards[card.Number] == challenge && req.Initiator == providers.InitiatorCustomer && !req.MOTO {
		if !s.authenticatedCharge(req) {
			decline, out = true, outcome{reason: "authentication_required", networkCode: "1A"}
		} else if card.Number == "4000002500003155" {
			decline = false // authenticated: the initial payment goes through
		}
	}
	if card.Number == "4000008260003178" && !decline {
		decline, out = true, outcome{reason: "insufficient_funds", networkCode: "51"}
	}
	switch out.special {
	case succeedOnce:
		decline = s.successes[fingerprint] > 0
	case declineMerchantInitiated:
		decline = req.Initiator == providers.InitiatorMerchant
	}
	if decline {
		return providers.ChargeResult{}, true, nil, providers.Classify(providers.Failure{
			Provider: s.name, Reason: out.reason, Network: brand,
			NetworkCode: out.networkCode, AdviceCode: out.adviceCode, ChargeID: chargeID,
		})
	}

	ntid := fmt.Sprintf("58%013d", seq)
	entry := LedgerEntry{
		ChargeID:             chargeID,
		IdempotencyKey:       req.IdempotencyKey,
		CustomerRef:          card.CustomerRef,
		Fingerprint:          fingerprint,
		Brand:                brand,
		Last4:                card.Number[len(card.Number)-4:],
		Amount:               req.Amount,
		Currency:             req.Currency,
		Initiator:            req.Initiator,
		NetworkTransactionID: ntid,
		Description:          req.Description,
		Metadata:             maps.Clone(req.Metadata),
		At:                   s.now(),
	}
	if req.Initiator == providers.InitiatorMerchant {
		entry.InitialNetworkTransactionID = req.NetworkTransactionID
	}
	s.successes[fingerprint]++
	return providers.ChargeResult{
		ID:                   chargeID,
		Status:               providers.ChargeSucceeded,
		NetworkTransactionID: ntid,
		Amount:               req.Amount,
		Currency:             req.Currency,
	}, true, &entry, nil
}

// Detach removes a saved card: every later charge of its token fails with
// payment_method_not_found, as at a provider that deleted it. Removing it again is
// not an error. Only the token's MAC is kept.
func (s *Simulator) Detach(ctx context.Context, req providers.DetachRequest) error {
	if req.Token == "" {
		return s.own(&providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodePaymentMethodNotFound,
			Param: "token", Message: "detach needs the saved card's token"})
	}
	if _, err := s.vault.open(req.Token); err != nil {
		return s.fail(billing.CodePaymentMethodNotFound, "no such saved card")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.detached == nil {
		s.detached = map[string]bool{}
	}
	s.detached[s.vault.mac("token:"+req.Token)] = true
	return nil
}

// isDetached reports whether Detach removed token.
func (s *Simulator) isDetached(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detached[s.vault.mac("token:"+token)]
}

// Refund returns money from a charge in the ledger, once per idempotency key.
func (s *Simulator) Refund(ctx context.Context, req providers.RefundRequest) (providers.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return providers.RefundResult{}, s.own(err)
	}
	if c, _ := providers.Find(s.caps, providers.MethodCard); !c.Refunds {
		return providers.RefundResult{}, &providers.Error{
			Class: providers.ClassInvalidRequest, Code: billing.CodeRefundNotSupported, Provider: s.name,
			Message: "refunds are not supported", Err: providers.ErrNotSupported,
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.wait(ctx); err != nil {
		return providers.RefundResult{}, err
	}

	fp := fmt.Sprintf("%s|%d|%s", req.ChargeID, req.Amount, req.Currency)
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.refundKeys[req.IdempotencyKey]; ok {
		if a.request != fp {
			return providers.RefundResult{}, s.fail(billing.CodeIdempotencyConflict,
				"this idempotency key was used for a different refund")
		}
		return a.res, a.err
	}
	res, err := s.refund(req)
	s.refundKeys[req.IdempotencyKey] = &refundAttempt{request: fp, res: res, err: err}
	return res, err
}

// refund runs under s.mu.
func (s *Simulator) refund(req providers.RefundRequest) (providers.RefundResult, error) {
	i, ok := s.byChargeID[req.ChargeID]
	if !ok {
		return providers.RefundResult{}, s.fail(billing.CodeResourceMissing, "no such charge")
	}
	ch := &s.ledger[i]
	remaining := ch.Amount - ch.Refunded
	amount := req.Amount
	if amount == 0 {
		amount = remaining
	}
	switch {
	case req.Currency != "" && req.Currency != ch.Currency:
		return providers.RefundResult{}, s.fail(billing.CodeInvalidCurrency, "currency differs from the charge's")
	case amount <= 0 || amount > remaining:
		return providers.RefundResult{}, s.fail(billing.CodeInvalidAmount,
			fmt.Sprintf("refund of %d exceeds the %d left on the charge", amount, remaining))
	}
	ch.Refunded += amount
	s.seq++
	id := fmt.Sprintf("re_sim_%010d", s.seq)
	s.refunds = append(s.refunds, RefundEntry{
		RefundID: id, ChargeID: req.ChargeID, IdempotencyKey: req.IdempotencyKey,
		Amount: amount, Currency: ch.Currency, At: s.now(),
	})
	return providers.RefundResult{ID: id, Status: "succeeded", Amount: amount}, nil
}

// wait applies the latency knob, giving up when the call's deadline passes.
func (s *Simulator) wait(ctx context.Context) error {
	d := s.latency
	if s.jitter > 0 {
		s.mu.Lock()
		d += time.Duration(s.rng.Int64N(int64(s.jitter)))
		s.mu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		return providers.TransportError(s.name, err)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return providers.TransportError(s.name, ctx.Err())
	}
}

// fail builds an invalid-request error from this simulator.
func (s *Simulator) fail(code, msg string) *providers.Error {
	return &providers.Error{Class: providers.ClassInvalidRequest, Code: code, Provider: s.name, Message: msg}
}

// own stamps the simulator's name on a shared validation error.
func (s *Simulator) own(err error) error {
	if e, ok := providers.AsError(err); ok {
		e.Provider = s.name
	}
	return err
}

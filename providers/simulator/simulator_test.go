package simulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/providertest"
	"github.com/recurring/recurring/providers/simulator"
)

var vaultKey = []byte("0123456789abcdef0123456789abcdef")

func newSim(t testing.TB, opts simulator.Options) *simulator.Simulator {
	t.Helper()
	if opts.VaultKey == nil {
		opts.VaultKey = vaultKey
	}
	s, err := simulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	card := providertest.Card
	providertest.Run(t, func(t *testing.T) providers.Provider { return newSim(t, simulator.Options{}) }, providertest.TestCards{
		Success: card("4242424242424242"),
		Timeout: card("4000000000000259"),
		Declines: []providertest.Decline{
			{Name: "generic", Card: card("4000000000000002"), Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined},
			{Name: "insufficient funds", Card: card("4000000000009995"), Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds},
			{Name: "expired", Card: card("4000000000000069"), Class: providers.ClassHardDecline, Code: billing.CodeCardExpired},
			{Name: "lost", Card: card("4000000000009987"), Class: providers.ClassHardDecline, Code: billing.CodeLostCard},
			{Name: "stolen", Card: card("4000000000009979"), Class: providers.ClassHardDecline, Code: billing.CodeStolenCard},
			{Name: "pick up", Card: card("4100000000000019"), Class: providers.ClassHardDecline, Code: billing.CodeCardBlocked},
			{Name: "visa R1", Card: card("4000000000001307"), Class: providers.ClassHardDecline, Code: billing.CodeAuthorizationRevoked},
			{Name: "3ds", Card: card("4000002500003155"), Class: providers.ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
			{Name: "mastercard 24", Card: card("5200000000000247"), Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds, RetryAfter: time.Hour},
			{Name: "mastercard 21", Card: card("5200000000000213"), Class: providers.ClassHardDecline, Code: billing.CodeAuthorizationRevoked},
			{Name: "prepaid recurring", Card: card("5100000000000040"), MerchantInitiated: true, Class: providers.ClassHardDecline, Code: billing.CodeRecurringNotSupported},
			{Name: "succeeds once", Card: card("4000000000000341"), MerchantInitiated: true, Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds},
		},
	})
}

func save(t testing.TB, s *simulator.Simulator, number string) providers.SavedCard {
	t.Helper()
	saved, err := s.SaveCard(context.Background(), providers.SaveCardRequest{CustomerID: "cus_1", Card: providertest.Card(number)})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

func charge(saved providers.SavedCard, key string) providers.ChargeRequest {
	return providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 2500, Currency: "JOD",
		IdempotencyKey: key, Initiator: providers.InitiatorCustomer}
}

func TestRepeatsNeverChargeTwice(t *testing.T) {
	s := newSim(t, simulator.Options{})
	saved := save(t, s, "4242424242424242")
	ctx := context.Background()
	for range 5 {
		if _, err := s.Charge(ctx, charge(saved, "plan_1/1/1")); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Charge(ctx, charge(saved, "plan_1/2/1")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ledger := s.Charges()
	if len(ledger) != 2 {
		t.Fatalf("ledger has %d charges, want 2: %+v", len(ledger), ledger)
	}
	if ledger[0].IdempotencyKey != "plan_1/1/1" || ledger[0].Amount != 2500 || ledger[0].Currency != "JOD" || ledger[0].Last4 != "4242" {
		t.Errorf("ledger entry %+v", ledger[0])
	}
}

func TestProcessingErrorSucceedsOnRetryWithSameKey(t *testing.T) {
	s := newSim(t, simulator.Options{})
	saved := save(t, s, "4000000000000119")
	ctx := context.Background()

	_, err := s.Charge(ctx, charge(saved, "k1"))
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeProcessingError || !e.Retryable() {
		t.Fatalf("first attempt = %v, want a retryable processing_error", err)
	}
	if n := len(s.Charges()); n != 0 {
		t.Fatalf("a failed attempt charged: %d", n)
	}
	first, err := s.Charge(ctx, charge(saved, "k1"))
	if err != nil {
		t.Fatalf("retry with the same key: %v", err)
	}
	again, err := s.Charge(ctx, charge(saved, "k1"))
	if err != nil || again != first {
		t.Fatalf("third call = %+v %v, want the stored %+v", again, err, first)
	}
	if n := len(s.Charges()); n != 1 {
		t.Fatalf("ledger has %d charges, want 1", n)
	}
}

func TestSucceedsOnceThenDeclines(t *testing.T) {
	s := newSim(t, simulator.Options{})
	saved := save(t, s, "4000000000000341")
	ctx := context.Background()
	cit, err := s.Charge(ctx, charge(saved, "initial"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		req := charge(saved, fmt.Sprintf("recurring/%d", i))
		req.Initiator, req.NetworkTransactionID = providers.InitiatorMerchant, cit.NetworkTransactionID
		_, err := s.Charge(ctx, req)
		if e, ok := providers.AsError(err); !ok || e.Class != providers.ClassSoftDecline || !e.RetryLater() {
			t.Fatalf("recurring charge %d = %v, want a soft decline", i, err)
		}
	}
	if n := len(s.Charges()); n != 1 {
		t.Errorf("ledger has %d charges, want 1", n)
	}
}

func TestMerchantInitiatedKeepsInitialNetworkTransactionID(t *testing.T) {
	s := newSim(t, simulator.Options{})
	saved := save(t, s, "5555555555554444")
	ctx := context.Background()
	cit, err := s.Charge(ctx, charge(saved, "initial"))
	if err != nil {
		t.Fatal(err)
	}
	req := charge(saved, "recurring")
	req.Initiator, req.NetworkTransactionID = providers.InitiatorMerchant, cit.NetworkTransactionID
	mit, err := s.Charge(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ledger := s.Charges()
	if ledger[1].InitialNetworkTransactionID != cit.NetworkTransactionID || ledger[1].NetworkTransactionID != mit.NetworkTransactionID {
		t.Errorf("ledger %+v does not chain the MIT to %s", ledger[1], cit.NetworkTransactionID)
	}
	if ledger[1].Initiator != providers.InitiatorMerchant || ledger[0].Initiator != providers.InitiatorCustomer {
		t.Errorf("initiators %s, %s", ledger[0].Initiator, ledger[1].Initiator)
	}
}

func TestRecurringNotSupportedByCapabilities(t *testing.T) {
	s := newSim(t, simulator.Options{Capabilities: []providers.Capability{{Method: providers.MethodCard, Recurring: false}}})
	saved := save(t, s, "4242424242424242")
	ctx := context.Background()
	if _, err := s.Charge(ctx, charge(saved, "cit")); err != nil {
		t.Fatalf("customer-initiated charges stay allowed: %v", err)
	}
	req := charge(saved, "mit")
	req.Initiator = providers.InitiatorMerchant
	_, err := s.Charge(ctx, req)
	if providers.CodeOf(err) != billing.CodeRecurringNotSupported || !errors.Is(err, providers.ErrNotSupported) {
		t.Errorf("merchant-initiated charge = %v, want recurring_not_supported", err)
	}
	_, err = s.Refund(ctx, providers.RefundRequest{ChargeID: "x", IdempotencyKey: "r"})
	if !errors.Is(err, providers.ErrNotSupported) || providers.CodeOf(err) != billing.CodeRefundNotSupported {
		t.Errorf("refund = %v, want refund_not_supported", err)
	}
	reg, _ := providers.NewRegistry(s)
	if providers.CodeOf(reg.CheckRecurring(simulator.Name, providers.MethodCard)) != billing.CodeRecurringNotSupported {
		t.Error("the registry accepts recurring on a matrix that says no")
	}
}

func TestVault(t *testing.T) {
	s := newSim(t, simulator.Options{})
	saved := save(t, s, "4242424242424242")
	if strings.Contains(saved.Token, "4242424242424242") || !strings.HasPrefix(saved.Token, "pm_sim_") {
		t.Fatalf("token %q", saved.Token)
	}
	ctx := context.Background()

	// The same key in a new process opens the token: tokens survive restarts.
	restarted := newSim(t, simulator.Options{})
	if _, err := restarted.Charge(ctx, charge(saved, "after-restart")); err != nil {
		t.Errorf("a restarted simulator with the same key cannot charge: %v", err)
	}
	if again := save(t, restarted, "4242424242424242"); again.Fingerprint != saved.Fingerprint {
		t.Errorf("fingerprint changed across restarts: %s vs %s", again.Fingerprint, saved.Fingerprint)
	}

	other := newSim(t, simulator.Options{VaultKey: []byte("another key, another vault!!")})
	_, err := other.Charge(ctx, charge(saved, "k"))
	if providers.CodeOf(err) != billing.CodePaymentMethodNotFound {
		t.Errorf("another key opened the token: %v", err)
	}
	tampered := saved
	tampered.Token = saved.Token[:len(saved.Token)-2] + "AA"
	if _, err := s.Charge(ctx, charge(tampered, "k2")); providers.CodeOf(err) != billing.CodePaymentMethodNotFound {
		t.Errorf("a tampered token was accepted: %v", err)
	}
	req := charge(saved, "k3")
	req.CustomerRef = "cus_sim_someoneelse"
	if _, err := s.Charge(ctx, req); providers.CodeOf(err) != billing.CodePaymentMethodNotFound {
		t.Errorf("another customer's card was charged: %v", err)
	}
	if _, err := simulator.New(simulator.Options{VaultKey: []byte("short")}); err == nil {
		t.Error("a 5-byte vault key was accepted")
	}
}

func TestSimulatorDoesNotPrintItsKeys(t *testing.T) {
	s := newSim(t, simulator.Options{})
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("p", "provider", s)
	out := fmt.Sprintf("%v %+v %#v %s", s, s, s, logs.String())
	if strings.Contains(out, string(vaultKey)) || strings.Contains(out, "aead") {
		t.Errorf("simulator internals printed: %s", out)
	}
}

func TestFailureRateIsSeededAndNeverCharges(t *testing.T) {
	run := func() (fails int, pattern string) {
		s := newSim(t, simulator.Options{FailureRate: 0.3, Seed: 42})
		saved := save(t, s, "4242424242424242")
		var b strings.Builder
		for i := range 200 {
			_, err := s.Charge(context.Background(), charge(saved, fmt.Sprintf("k%d", i)))
			if err != nil {
				if e, ok := providers.AsError(err); !ok || !e.Retryable() {
					t.Fatalf("injected failure is not transient: %v", err)
				}
				fails++
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		if got := len(s.Charges()); got != 200-fails {
			t.Fatalf("ledger %d, want %d", got, 200-fails)
		}
		return fails, b.String()
	}
	f1, p1 := run()
	f2, p2 := run()
	if p1 != p2 {
		t.Error("the same seed gave different failures")
	}
	if f1 < 30 || f1 > 90 || f2 != f1 {
		t.Errorf("%d of 200 failed at rate 0.3", f1)
	}
}

func TestLatencyAndTimeout(t *testing.T) {
	s := newSim(t, simulator.Options{Latency: 30 * time.Millisecond})
	saved := save(t, s, "4242424242424242")
	start := time.Now()
	if _, err := s.Charge(context.Background(), charge(saved, "slow")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("charge took %v, want at least the 30ms latency", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err := s.Charge(ctx, charge(saved, "too-slow"))
	if providers.CodeOf(err) != billing.CodeTimeout {
		t.Errorf("charge past its deadline = %v, want timeout", err)
	}
	// A timed-out attempt is not the key's answer.
	if _, err := s.Charge(context.Background(), charge(saved, "too-slow")); err != nil {
		t.Errorf("retry after a timeout: %v", err)
	}

	// The simulator's own timeout bounds calls whose context has none.
	quick := newSim(t, simulator.Options{Timeout: 50 * time.Millisecond})
	hang := save(t, quick, "4000000000000259")
	start = time.Now()
	_, err = quick.Charge(context.Background(), charge(hang, "hang"))
	if providers.CodeOf(err) != billing.CodeTimeout || time.Since(start) > 2*time.Second {
		t.Errorf("hanging card = %v after %v", err, time.Since(start))
	}
}

func TestRefunds(t *testing.T) {
	s := newSim(t, simulator.Options{})
	saved := save(t, s, "4242424242424242")
	ctx := context.Background()
	ch, err := s.Charge(ctx, charge(saved, "c"))
	if err != nil {
		t.Fatal(err)
	}
	r1, err := s.Refund(ctx, providers.RefundRequest{ChargeID: ch.ID, Amount: 1000, Currency: "JOD", IdempotencyKey: "r1"})
	if err != nil || r1.Amount != 1000 {
		t.Fatalf("partial refund = %+v %v", r1, err)
	}
	if again, _ := s.Refund(ctx, providers.RefundRequest{ChargeID: ch.ID, Amount: 1000, Currency: "JOD", IdempotencyKey: "r1"}); again != r1 {
		t.Errorf("refund replay = %+v, want %+v", again, r1)
	}
	rest, err := s.Refund(ctx, providers.RefundRequest{ChargeID: ch.ID, IdempotencyKey: "r2"})
	if err != nil || rest.Amount != 1500 {
		t.Fatalf("refund of the rest = %+v %v", rest, err)
	}
	_, err = s.Refund(ctx, providers.RefundRequest{ChargeID: ch.ID, Amount: 1, Currency: "JOD", IdempotencyKey: "r3"})
	if providers.CodeOf(err) != billing.CodeInvalidAmount {
		t.Errorf("over-refund = %v", err)
	}
	if n := len(s.Refunds()); n != 2 {
		t.Errorf("%d refunds recorded, want 2", n)
	}
}

// BenchmarkSimulatorCharge measures charges per second through the full path: request
// validation, idempotency store, vault decryption and ledger append.
func BenchmarkSimulatorCharge(b *testing.B) {
	s := newSim(b, simulator.Options{})
	saved := save(b, s, "4242424242424242")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var i int
		prefix := fmt.Sprintf("%p", &i)
		for pb.Next() {
			i++
			if _, err := s.Charge(ctx, charge(saved, fmt.Sprintf("bench/%s/%d", prefix, i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "charges/s")
	if n := len(s.Charges()); n != b.N {
		b.Fatalf("ledger %d, want %d", n, b.N)
	}
}

package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/recurring/recurring/providers/axerve/axervetest"
)

// chromium returns Debian's Chromium, which .ci/run installs. Outside CI a machine
// without it skips the browser tests; in CI their absence fails.
func chromium(t *testing.T) string {
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (apt-get install chromium, or set CHROMIUM)")
	}
	t.Skip("no Chromium found (apt-get install chromium, or set CHROMIUM)")
	return ""
}

// browser is a headless Chromium tab that keeps a screenshot of every step, written
// to a directory when the test fails.
type browser struct {
	t     *testing.T
	ctx   context.Context
	mu    sync.Mutex
	shots map[string][]byte
}

func newBrowser(t *testing.T) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(390, 844)) // a phone's screen
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	b := &browser{t: t, ctx: ctx, shots: map[string][]byte{}}
	t.Cleanup(func() {
		if t.Failed() {
			b.writeShots()
		}
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	return b
}

// step runs actions and keeps a screenshot named after the step.
func (b *browser) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	err := chromedp.Do(b.ctx, actions...)
	if shot, serr := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); serr == nil {
		b.mu.Lock()
		b.shots[fmt.Sprintf("%02d-%s.png", len(b.shots)+1, name)] = shot
		b.mu.Unlock()
	}
	if err != nil {
		b.t.Fatalf("browser step %q: %v", name, err)
	}
}

func (b *browser) writeShots() {
	dir, err := os.MkdirTemp("", "recurring-browser-")
	if err != nil {
		b.t.Logf("screenshots: %v", err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, shot := range b.shots {
		_ = os.WriteFile(filepath.Join(dir, name), shot, 0o644)
	}
	b.t.Logf("screenshots of each step: %s", dir)
}

// challengeCard types a card the simulator challenges, as a customer does.
func challengeCard() []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.ID("name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.ID("number"), "4000 0000 0000 3220"),
		chromedp.SendKeys(chromedp.ID("exp_month"), "12"),
		chromedp.SendKeys(chromedp.ID("exp_year"), "2034"),
		chromedp.SendKeys(chromedp.ID("cvc"), "123"),
	}
}

// shop is the merchant's return page: it records where the customer came back with.
type shop struct {
	srv  *httptest.Server
	mu   sync.Mutex
	back []url.Values
}

func newShop(t *testing.T) *shop {
	s := &shop{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/thanks" { // the browser also asks for /favicon.ico
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		s.back = append(s.back, r.URL.Query())
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><h1 id="back">Back at the shop</h1>`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *shop) last() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.back) == 0 {
		return nil
	}
	return s.back[len(s.back)-1]
}

// TestHostedPaymentInABrowser drives headless Chromium through the hosted page: a card
// typed in, the 3-D Secure challenge approved, the redirect back to the shop, and the
// saved card then paying a plan's merchant-initiated installments; then a challenge
// denied.
func TestHostedPaymentInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server and Chromium")
	}
	f := newFixtureWith(t, fixtureOptions{temporal: withTemporal})
	srv := hostedServer(t, f)
	shop := newShop(t)
	b := newBrowser(t)

	p := f.hostedPayment(t, srv, fmt.Sprintf(`,"save_card":true,"return_url":%q`, shop.srv.URL+"/thanks"))
	b.step("card-form", chromedp.Navigate(p.PaymentURL), chromedp.WaitVisible(chromedp.ID("number")))
	b.step("card-typed", challengeCard()...)
	b.step("challenge", chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("approve")))
	b.step("approved", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("outcome")))
	b.step("back-at-shop", chromedp.WaitVisible(chromedp.ID("back")))
	location, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if q := shop.last(); q.Get("payment_id") != p.ID || q.Get("status") != "succeeded" || !strings.HasPrefix(location, shop.srv.URL+"/thanks") {
		t.Fatalf("back at %s with %v, want payment_id=%s status=succeeded", location, q, p.ID)
	}
	var paid hostedBody
	f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &paid)
	if paid.Status != "succeeded" || paid.PaymentType != "initial" || paid.PaymentMethod == "" {
		t.Fatalf("payment after the browser: %+v", paid)
	}

	// The authenticated card pays a plan's later installments, merchant-initiated.
	var plan planBody
	cus := f.body(t, "/v1/payments/"+p.ID)["customer"].(string)
	if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
		`{"customer":%q,"payment":%q,"currency":"EUR","schedule":{"frequency":"seconds","recurring_amount":2500,"installments":2}}`,
		cus, p.ID), &plan); code != http.StatusCreated {
		t.Fatalf("plan from the hosted payment = %d", code)
	}
	done := f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Status == "completed" })
	if done.Paid != 2 || done.PaymentMethod != paid.PaymentMethod {
		t.Errorf("plan %+v, want 2 installments paid with card %s", done, paid.PaymentMethod)
	}

	// A denied challenge fails the payment and says so on the way back.
	p2 := f.hostedPayment(t, srv, fmt.Sprintf(`,"return_url":%q`, shop.srv.URL+"/thanks"))
	b.step("card-form-2", chromedp.Navigate(p2.PaymentURL), chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("number"), "4000000000003220"),
		chromedp.SendKeys(chromedp.ID("exp_month"), "01"),
		chromedp.SendKeys(chromedp.ID("exp_year"), "2035"))
	b.step("challenge-2", chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("deny")))
	b.step("denied", chromedp.Click(chromedp.ID("deny")), chromedp.WaitVisible(chromedp.ID("outcome")))
	attr, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.ID("outcome"), "data-status"))
	if err != nil {
		t.Fatal(err)
	}
	status := attr.Value
	b.step("back-at-shop-2", chromedp.WaitVisible(chromedp.ID("back")))
	if q := shop.last(); status != "failed" || q.Get("payment_id") != p2.ID || q.Get("status") != "failed" {
		t.Errorf("denied challenge: page %q, back with %v", status, q)
	}
}

// TestHostedPlanInABrowser drives headless Chromium through the path issue 12 names:
// a plan created without a card, its payment_url opened, the card typed, the 3-D Secure
// challenge approved, the redirect back to the shop with the plan's id, and the plan
// active with its first installment paid; then a plan whose challenge is denied, which
// stays incomplete with nothing charged.
func TestHostedPlanInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server and Chromium")
	}
	f := newFixtureWith(t, fixtureOptions{temporal: withTemporal})
	srv := hostedServer(t, f)
	shop := newShop(t)
	b := newBrowser(t)
	createPlan := func(email string) hostedPlanBody {
		t.Helper()
		cus := f.createCustomer(t, f.testKey, email)
		var p hostedPlanBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"currency":"EUR","return_url":%q,"schedule":{"frequency":"days","recurring_amount":1999,"installments":12}}`,
			cus.ID, shop.srv.URL+"/thanks"), &p); code != http.StatusCreated || p.Status != "incomplete" || p.PaymentURL == "" {
			t.Fatalf("create plan = %d %+v", code, p)
		}
		return p
	}

	p := createPlan("ada@example.com")
	b.step("plan-page", chromedp.Navigate(p.PaymentURL), chromedp.WaitVisible(chromedp.ID("number")))
	b.step("plan-card-typed", challengeCard()...)
	b.step("plan-challenge", chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("approve")))
	b.step("plan-approved", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("outcome")))
	b.step("plan-back-at-shop", chromedp.WaitVisible(chromedp.ID("back")))
	if q := shop.last(); q.Get("plan_id") != p.ID || q.Get("status") != "succeeded" || q.Get("payment_session") != p.PaymentSession {
		t.Fatalf("back at the shop with %v, want plan_id=%s status=succeeded", q, p.ID)
	}
	var now hostedPlanBody
	f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &now)
	if now.Status != "active" || now.Paid != 1 || now.PaidAmount != 1999 || now.PaymentMethod == "" {
		t.Errorf("plan after the browser: %+v, want active with its first installment paid", now)
	}

	// A denied challenge: back at the shop with failed, the plan still incomplete.
	p2 := createPlan("bob@example.com")
	b.step("plan-page-2", chromedp.Navigate(p2.PaymentURL), chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("number"), "4000000000003220"),
		chromedp.SendKeys(chromedp.ID("exp_month"), "01"),
		chromedp.SendKeys(chromedp.ID("exp_year"), "2035"))
	b.step("plan-challenge-2", chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("deny")))
	b.step("plan-denied", chromedp.Click(chromedp.ID("deny")), chromedp.WaitVisible(chromedp.ID("outcome")))
	b.step("plan-back-at-shop-2", chromedp.WaitVisible(chromedp.ID("back")))
	if q := shop.last(); q.Get("plan_id") != p2.ID || q.Get("status") != "failed" {
		t.Errorf("denied challenge: back with %v", q)
	}
	f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p2.ID, f.testKey, "", &now)
	if now.Status != "incomplete" || now.Paid != 0 || f.chargesOf(p2.ID+"/1/1") != 0 {
		t.Errorf("plan after a denied challenge: %+v, want incomplete with nothing charged", now)
	}
}

// TestProviderPagesInABrowser drives headless Chromium from the hosted page to pages
// on another origin and back: PayPal's approval page behind the "Pay with PayPal"
// button of an Axerve account, and Axerve's 3-D Secure page behind a challenged card.
// The card page's CSP allows forms to post to itself only, and Chromium checks a form
// post's redirects against it: the engine hands the customer on with a page of its
// own, which this test would not get past otherwise. Approved, each comes back through
// the account's callback to the outcome and the shop.
func TestProviderPagesInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server and Chromium")
	}
	// The worker's public URL must be the listener the browser reaches.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + ln.Addr().String()
	f := newFixtureWith(t, fixtureOptions{temporal: withTemporalAt(public)})
	srv := httptest.NewUnstartedServer(f.handler)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	d := axervetest.New(t, axervetest.Shop{ShopLogin: "GESPAYBR1", APIKey: "browser-key"})
	var acc providerAccountBody
	f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
		`{"provider":"axerve","name":"browser","base_url":%q,"credentials":{"shop_login":"GESPAYBR1","api_key":"browser-key"}}`, d.URL), &acc)
	shop := newShop(t)
	b := newBrowser(t)
	extra := fmt.Sprintf(`,"provider_account":%q,"save_card":true,"return_url":%q`, acc.ID, shop.srv.URL+"/thanks")

	// PayPal.
	p := f.hostedPayment(t, srv, extra)
	b.step("paypal-button", chromedp.Navigate(p.PaymentURL), chromedp.WaitVisible(chromedp.ID("paypal")))
	b.step("at-paypal", chromedp.Click(chromedp.ID("paypal")), chromedp.WaitVisible(chromedp.ID("approve")))
	b.step("paypal-approved", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("outcome")))
	b.step("paypal-back-at-shop", chromedp.WaitVisible(chromedp.ID("back")))
	if q := shop.last(); q.Get("payment_id") != p.ID || q.Get("status") != "succeeded" {
		t.Fatalf("back at the shop with %v, want payment_id=%s status=succeeded", q, p.ID)
	}
	var paid hostedBody
	f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &paid)
	var pm struct {
		Type string `json:"type"`
	}
	f.ok(t, http.MethodGet, "/v1/payment-methods/"+paid.PaymentMethod, f.testKey, "", &pm)
	if paid.Status != "succeeded" || pm.Type != "paypal" {
		t.Fatalf("payment %+v on a %q method, want succeeded on a paypal one", paid, pm.Type)
	}

	// A card Axerve challenges.
	p2 := f.hostedPayment(t, srv, extra)
	b.step("card-form", chromedp.Navigate(p2.PaymentURL), chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("number"), axervetest.CardThreeDS),
		chromedp.SendKeys(chromedp.ID("exp_month"), "12"),
		chromedp.SendKeys(chromedp.ID("exp_year"), "2034"),
		chromedp.SendKeys(chromedp.ID("cvc"), "123"))
	b.step("at-issuer", chromedp.Click(chromedp.ID("pay")), chromedp.WaitVisible(chromedp.ID("approve")))
	b.step("issuer-approved", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("outcome")))
	b.step("card-back-at-shop", chromedp.WaitVisible(chromedp.ID("back")))
	if q := shop.last(); q.Get("payment_id") != p2.ID || q.Get("status") != "succeeded" {
		t.Fatalf("back at the shop with %v, want payment_id=%s status=succeeded", q, p2.ID)
	}
}

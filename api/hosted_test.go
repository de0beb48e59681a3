package api_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

type hostedBody struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	PaymentURL    string     `json:"payment_url"`
	ExpiresAt     *time.Time `json:"expires_at"`
	PaymentMethod string     `json:"payment_method"`
	PaymentType   string     `json:"payment_type"`
	FailureCode   string     `json:"failure_code"`
}

// customer is a browser on the hosted page: an HTTP client with a cookie jar, which
// follows the page's redirects.
type customer struct {
	t      *testing.T
	client *http.Client
}

func newCustomer(t *testing.T) *customer {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &customer{t: t, client: &http.Client{Jar: jar, Timeout: time.Minute}}
}

// get fetches a page and returns its status, final URL and body. Like a browser it
// follows redirects and the engine's hand-off page to a provider's page.
func (c *customer) get(u string) (int, string, string) {
	c.t.Helper()
	res, err := c.client.Get(u)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.read(res)
}

// read returns a response's status, final URL and body, following a hand-off page.
func (c *customer) read(res *http.Response) (int, string, string) {
	c.t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := handoffLink.FindStringSubmatch(string(b)); m != nil && res.StatusCode == http.StatusOK {
		if !strings.Contains(string(b), `<meta http-equiv="refresh" content="0;url=`) {
			c.t.Fatalf("a hand-off page that does not send the customer on: %s", b)
		}
		return c.get(html.UnescapeString(m[1]))
	}
	return res.StatusCode, res.Request.URL.String(), string(b)
}

// post submits a form of the page at pageURL (its csrf field included).
func (c *customer) post(pageURL, page string, form url.Values) (int, string, string) {
	c.t.Helper()
	if m := csrfField.FindStringSubmatch(page); m != nil && form.Get("csrf") == "" {
		form.Set("csrf", m[1])
	}
	action := csrfAction.FindStringSubmatch(page)
	if action == nil {
		c.t.Fatalf("no form on the page: %s", page)
	}
	u, _ := url.Parse(pageURL)
	target, _ := u.Parse(action[1])
	res, err := c.client.PostForm(target.String(), form)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.read(res)
}

// answer clicks Approve or Deny on the simulated ACS page at pageURL: its form posts
// the signed answer to the provider callback route.
func (c *customer) answer(pageURL, page, answer string) (int, string, string) {
	c.t.Helper()
	form, action := acsForm(c.t, page, answer)
	u, _ := url.Parse(pageURL)
	target, _ := u.Parse(action)
	res, err := c.client.PostForm(target.String(), form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Request.URL.String(), string(b)
}

// acsForm reads the simulated ACS page's form for answer: its fields and action.
func acsForm(t *testing.T, page, answer string) (url.Values, string) {
	t.Helper()
	m := regexp.MustCompile(`(?s)<form method="post" action="([^"]+)" id="` + answer + `-form">(.*?)</form>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s form on the page: %s", answer, page)
	}
	form := url.Values{}
	for _, f := range hiddenField.FindAllStringSubmatch(m[2], -1) {
		form.Set(f[1], html.UnescapeString(f[2]))
	}
	return form, html.UnescapeString(m[1])
}

var (
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	handoffLink = regexp.MustCompile(`<a id="handoff" href="([^"]+)"`)
	csrfAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	outcome     = regexp.MustCompile(`id="outcome" data-status="([a-z_]+)"`)
)

func card(number string) url.Values {
	return url.Values{"number": {number}, "exp_month": {"12"}, "exp_year": {"2034"}, "cvc": {"123"}, "name": {"Ada Lovelace"},
		"tz": {"-60"}, "sw": {"390"}, "sh": {"844"}, "cd": {"24"}}
}

// hostedServer serves the fixture's API on a real listener, as the page needs.
func hostedServer(t *testing.T, f fixture) *httptest.Server {
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	return srv
}

func (f fixture) apiCall(t *testing.T, srv *httptest.Server, method, path, key, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if out == nil && res.StatusCode >= 300 {
		t.Logf("%s %s = %d: %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode
}

func (f fixture) hostedPayment(t *testing.T, srv *httptest.Server, extra string) hostedBody {
	t.Helper()
	cus := f.createCustomer(t, f.testKey, "ada@example.com")
	var p hostedBody
	body := fmt.Sprintf(`{"customer":%q,"amount":2500,"currency":"EUR"%s}`, cus.ID, extra)
	if code := f.apiCall(t, srv, http.MethodPost, "/v1/payments", f.testKey, body, &p); code != http.StatusCreated {
		t.Fatalf("create hosted payment = %d", code)
	}
	if p.Status != "requires_action" || !strings.HasPrefix(p.PaymentURL, srv.URL+"/pay/") || p.ExpiresAt == nil {
		t.Fatalf("hosted payment %+v, want requires_action with a payment_url on %s", p, srv.URL)
	}
	return p
}

// chargesOf counts the simulator's charges under a payment's idempotency key.
func (f fixture) chargesOf(id string) int {
	n := 0
	for _, c := range f.sim.Charges() {
		if c.IdempotencyKey == id {
			n++
		}
	}
	return n
}

func TestHostedPayment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		back := srv.URL + "/back"

		t.Run("frictionless, card saved", func(t *testing.T) {
			p := f.hostedPayment(t, srv, fmt.Sprintf(`,"save_card":true,"return_url":%q`, back+"?order=42"))
			c := newCustomer(t)
			res, err := c.client.Get(p.PaymentURL)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			csp := res.Header.Get("Content-Security-Policy")
			if res.StatusCode != http.StatusOK || !strings.Contains(csp, "frame-ancestors 'none'") ||
				!strings.Contains(csp, "script-src 'self'") || res.Header.Get("Referrer-Policy") != "no-referrer" ||
				res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("page = %d, headers %v", res.StatusCode, res.Header)
			}
			if !strings.Contains(string(page), "25.00 EUR") {
				t.Errorf("the page does not show the amount: %s", page)
			}
			code, _, done := c.post(p.PaymentURL, string(page), card("4242424242424242"))
			if m := outcome.FindStringSubmatch(done); code != http.StatusOK || m == nil || m[1] != "succeeded" {
				t.Fatalf("after the card: %d %s", code, done)
			}
			wantReturn := "order=42&amp;payment_id=" + p.ID + "&amp;status=succeeded"
			if !strings.Contains(done, back+"?"+wantReturn) {
				t.Errorf("the done page does not send the customer to %s?%s: %s", back, wantReturn, done)
			}
			var got hostedBody
			f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
			if got.Status != "succeeded" || got.PaymentMethod == "" || got.PaymentType != "initial" || got.PaymentURL != "" {
				t.Fatalf("payment after the page: %+v", got)
			}
			var pm paymentMethodBody
			f.apiCall(t, srv, http.MethodGet, "/v1/payment-methods/"+got.PaymentMethod, f.testKey, "", &pm)
			if pm.Status != "active" {
				t.Errorf("saved card %+v, want active", pm)
			}
			evs := f.events(t, "payment.succeeded")
			if obj := evs[len(evs)-1].Data.Object; obj["id"] != p.ID || obj["payment_method"] != got.PaymentMethod {
				t.Errorf("payment.succeeded data.object %v, want %s with its card", obj, p.ID)
			}
			// A second submission (back button, double click) charges nothing more.
			code, _, again := c.post(p.PaymentURL, string(page), card("4242424242424242"))
			if m := outcome.FindStringSubmatch(again); code != http.StatusOK || m == nil || m[1] != "succeeded" {
				t.Errorf("resubmitted: %d %s", code, again)
			}
			if n := f.chargesOf(p.ID); n != 1 {
				t.Errorf("%d charges for %s, want 1", n, p.ID)
			}
		})

		t.Run("challenge approved, card not kept", func(t *testing.T) {
			p := f.hostedPayment(t, srv, "")
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			code, u, acs := c.post(u, page, card("4000000000003220"))
			if code != http.StatusOK || !strings.Contains(u, "/challenge?authentication=3ds_sim_") || !strings.Contains(acs, `id="approve"`) {
				t.Fatalf("after a challenge card: %d %s %s", code, u, acs)
			}
			_, _, done := c.answer(u, acs, "approve")
			if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
				t.Fatalf("after approving: %s", done)
			}
			var got hostedBody
			f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
			var pm paymentMethodBody
			f.apiCall(t, srv, http.MethodGet, "/v1/payment-methods/"+got.PaymentMethod, f.testKey, "", &pm)
			if got.Status != "succeeded" || got.PaymentType != "one_off" || pm.Status != "detached" {
				t.Errorf("payment %+v, card %+v: want a succeeded one-off payment and its card detached", got, pm)
			}
		})

		for _, tc := range []struct{ name, number, answer, code string }{
			{"challenge denied", "4000000000003220", "deny", "authentication_failed"},
			{"declined after authentication", "4000008260003178", "approve", "insufficient_funds"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := f.hostedPayment(t, srv, fmt.Sprintf(`,"save_card":true,"return_url":%q`, back))
				c := newCustomer(t)
				_, u, page := c.get(p.PaymentURL)
				_, u, acs := c.post(u, page, card(tc.number))
				_, _, done := c.answer(u, acs, tc.answer)
				if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "failed" {
					t.Fatalf("after %s: %s", tc.answer, done)
				}
				var got hostedBody
				f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
				var pm paymentMethodBody
				f.apiCall(t, srv, http.MethodGet, "/v1/payment-methods/"+got.PaymentMethod, f.testKey, "", &pm)
				if got.Status != "failed" || got.FailureCode != tc.code || pm.Status != "detached" {
					t.Errorf("payment %+v, card %+v: want failed with %s and the card not kept", got, pm, tc.code)
				}
			})
		}

		t.Run("moto skips 3-D Secure", func(t *testing.T) {
			p := f.hostedPayment(t, srv, `,"type":"moto"`)
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			_, _, done := c.post(u, page, card("4000000000003220"))
			if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
				t.Fatalf("moto payment on a challenge card: %s", done)
			}
		})

		t.Run("a post from elsewhere is refused", func(t *testing.T) {
			p := f.hostedPayment(t, srv, "")
			res, err := http.PostForm(p.PaymentURL, card("4242424242424242")) // no cookie, no csrf
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			var got hostedBody
			f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
			if res.StatusCode != http.StatusForbidden || got.Status != "requires_action" || f.chargesOf(p.ID) != 0 {
				t.Errorf("forged post = %d, payment %s, %d charges", res.StatusCode, got.Status, f.chargesOf(p.ID))
			}
			if code, _, _ := newCustomer(t).get(srv.URL + "/pay/" + strings.Repeat("x", 43)); code != http.StatusNotFound {
				t.Errorf("an unknown token = %d, want 404", code)
			}
		})

		t.Run("submissions are limited per session", func(t *testing.T) {
			p := f.hostedPayment(t, srv, "")
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			for i := 1; i <= 10; i++ {
				code, _, body := c.post(u, page, card("4242424242424241")) // fails the Luhn check
				if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="error"`) {
					t.Fatalf("bad card %d = %d: %s", i, code, body)
				}
				if strings.Contains(body, "4242424242424241") {
					t.Fatalf("the page shows the card number back: %s", body)
				}
			}
			if code, _, _ := c.post(u, page, card("4242424242424242")); code != http.StatusTooManyRequests {
				t.Errorf("the 11th submission = %d, want 429", code)
			}
			if f.chargesOf(p.ID) != 0 {
				t.Errorf("a limited session charged")
			}
		})

		t.Run("an unfinished session expires", func(t *testing.T) {
			p := f.hostedPayment(t, srv, `,"expires_in":5,"save_card":true`)
			// The customer gives a card, then leaves the challenge unanswered.
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			if _, u, _ = c.post(u, page, card("4000000000003220")); !strings.Contains(u, "/challenge?") {
				t.Fatalf("after a challenge card: %s", u)
			}
			var got hostedBody
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				got = hostedBody{}
				f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
				if got.Status == "expired" {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if got.Status != "expired" || got.PaymentURL != "" || got.PaymentMethod == "" {
				t.Fatalf("payment %+v, want expired without a payment_url, naming the card given", got)
			}
			var pm paymentMethodBody
			f.apiCall(t, srv, http.MethodGet, "/v1/payment-methods/"+got.PaymentMethod, f.testKey, "", &pm)
			if pm.Status != "detached" {
				t.Errorf("the unauthenticated card of an expired session is %s, want detached", pm.Status)
			}
			if f.chargesOf(p.ID) != 0 {
				t.Errorf("an expired session charged")
			}
			if code, _, _ := newCustomer(t).get(p.PaymentURL); code != http.StatusGone {
				t.Errorf("the expired page = %d, want 410", code)
			}
			evs := f.events(t, "payment.expired")
			if len(evs) == 0 || evs[len(evs)-1].Data.Object["id"] != p.ID || evs[len(evs)-1].Data.Object["status"] != "expired" {
				t.Errorf("payment.expired events %+v", evs)
			}
		})

		t.Run("bad input", func(t *testing.T) {
			cus := f.createCustomer(t, f.testKey, "bad@example.com")
			for _, tc := range []struct{ body, param string }{
				{`"return_url":"ftp://example.com/x"`, "return_url"},
				{`"return_url":"/relative"`, "return_url"},
				{`"expires_in":1`, "expires_in"},
				{`"expires_in":100000`, "expires_in"},
				{`"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034},"return_url":"https://example.com"`, "return_url"},
			} {
				rec, e := f.do(t, http.MethodPost, "/v1/payments", f.testKey,
					fmt.Sprintf(`{"customer":%q,"amount":100,"currency":"EUR",%s}`, cus.ID, tc.body))
				if rec.Code != http.StatusBadRequest || e.Error.Param != tc.param {
					t.Errorf("%s = %d %+v, want 400 naming %s", tc.body, rec.Code, e.Error, tc.param)
				}
			}
			rec, e := f.do(t, http.MethodPost, "/v1/payments", f.liveKey,
				`{"customer":"cus_x","amount":100,"currency":"EUR","return_url":"http://example.com"}`)
			if rec.Code != http.StatusBadRequest || e.Error.Param != "return_url" {
				t.Errorf("live http return_url = %d %+v, want 400 naming return_url", rec.Code, e.Error)
			}
		})
	})
}

type sessionBody struct {
	ID            string `json:"id"`
	Object        string `json:"object"`
	Plan          string `json:"plan"`
	Status        string `json:"status"`
	Outcome       string `json:"outcome"`
	PaymentMethod string `json:"payment_method"`
	PaymentURL    string `json:"payment_url"`
}

// TestPlanPaymentSession: a plan whose card was detached waits in action_required; the
// merchant makes a card-change page, the customer gives a card that passes a 3-D
// Secure challenge, and the plan charges it for the remaining installment.
func TestPlanPaymentSession(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		cus := f.createCustomer(t, f.testKey, "grace@example.com")
		old := f.saveCard(t, f.testKey, cus.ID, "4242424242424242")
		var plan planBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"currency":"EUR","schedule":{"frequency":"seconds","frequency_duration":8,"recurring_amount":1500,"installments":2}}`,
			cus.ID, old.ID), &plan); code != http.StatusCreated {
			t.Fatalf("create plan = %d", code)
		}
		f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Paid == 1 })
		f.apiCall(t, srv, http.MethodPost, "/v1/payment-methods/"+old.ID+"/detach", f.testKey, "", nil)
		f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Status == "action_required" })
		// The plan opened its own recovery page when the card went.
		var waiting struct {
			PaymentURL     string `json:"payment_url"`
			PaymentSession string `json:"payment_session"`
		}
		f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+plan.ID, f.testKey, "", &waiting)
		if !strings.HasPrefix(waiting.PaymentURL, srv.URL+"/pay/") || !strings.HasPrefix(waiting.PaymentSession, "ps_") {
			t.Errorf("a plan whose card was detached shows no recovery page: %+v", waiting)
		}

		var ps sessionBody
		back := srv.URL + "/back"
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+plan.ID+"/payment-session", f.testKey,
			fmt.Sprintf(`{"return_url":%q}`, back), &ps); code != http.StatusCreated {
			t.Fatalf("create payment session = %d", code)
		}
		if ps.Object != "payment_session" || ps.Plan != plan.ID || ps.Status != "open" || !strings.HasPrefix(ps.PaymentURL, srv.URL+"/pay/") {
			t.Fatalf("payment session %+v", ps)
		}
		if code := f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+ps.ID, f.testKey, "", nil); code != http.StatusNotFound {
			t.Errorf("GET /v1/payments/%s = %d: a card change is not a payment", ps.ID, code)
		}
		c := newCustomer(t)
		_, u, page := c.get(ps.PaymentURL)
		if !strings.Contains(page, "Update your card") || strings.Contains(page, "15.00 EUR") && strings.Contains(page, "Pay 15.00") {
			t.Errorf("the card-change page: %s", page)
		}
		_, u, acs := c.post(u, page, card("4000000000003220"))
		_, _, done := c.answer(u, acs, "approve")
		if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" || !strings.Contains(done, "Card updated") ||
			!strings.Contains(done, "payment_session="+ps.ID) {
			t.Fatalf("after approving: %s", done)
		}
		got := f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Status == "completed" })
		if got.Paid != 2 || got.PaymentMethod == old.ID || got.PaymentMethod == "" {
			t.Errorf("plan %+v, want both installments paid, the second with the new card", got)
		}
		var pm paymentMethodBody
		f.apiCall(t, srv, http.MethodGet, "/v1/payment-methods/"+got.PaymentMethod, f.testKey, "", &pm)
		if pm.Status != "active" || pm.Customer != cus.ID {
			t.Errorf("the new card %+v, want the customer's active card", pm)
		}
		if n := f.chargesOf(ps.ID); n != 0 {
			t.Errorf("the card-change page charged %d times", n)
		}

		// Bad input names its field; an ended plan takes no new card; an unknown or
		// another merchant's plan is 404.
		for body, param := range map[string]string{`{"return_url":"ftp://example.com"}`: "return_url",
			`{"expires_in":2}`: "expires_in", `{"card":{}}`: "card"} {
			rec, e := f.do(t, http.MethodPost, "/v1/plans/"+plan.ID+"/payment-session", f.testKey, body)
			if rec.Code != http.StatusBadRequest || e.Error.Param != param {
				t.Errorf("%s = %d %+v, want 400 naming %s", body, rec.Code, e.Error, param)
			}
		}
		// The live state (a query) can be ahead of the row the API checks: wait for it.
		f.waitPlanRow(t, plan.ID, "completed")
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+plan.ID+"/payment-session", f.testKey, "", nil); code != http.StatusConflict {
			t.Errorf("a session for a completed plan = %d, want 409", code)
		}
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+plan.ID+"/payment-session", f.otherKey, "", nil); code != http.StatusNotFound {
			t.Errorf("another merchant's plan = %d, want 404", code)
		}
	})
}

// TestProviderCallback: the simulated ACS answers through POST
// /v1/providers/simulator/callback, signed with the simulator's key. A signed answer
// completes the payment once and sends the customer to the outcome; an unsigned or
// tampered one is 401, a stale one, one naming another merchant's session and a
// replay are 400, an unknown provider is 404, and none of them changes anything.
// SQLite and Postgres.
func TestProviderCallback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		p := f.hostedPayment(t, srv, `,"save_card":true`)
		c := newCustomer(t)
		_, u, page := c.get(p.PaymentURL)
		_, u, acs := c.post(u, page, card("4000000000003220"))
		approve, action := acsForm(t, acs, "approve")
		if action != "/v1/providers/simulator/callback" || approve.Get("session") != p.ID || approve.Get("sig") == "" {
			t.Fatalf("the ACS form posts %v to %s", approve, action)
		}
		post := func(path string, form url.Values) (int, string) {
			t.Helper()
			res, err := http.PostForm(srv.URL+path, form) // no cookies: the issuer's page posts it
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		with := func(k, v string) url.Values {
			form := url.Values{}
			for key, vals := range approve {
				form[key] = vals
			}
			if v == "" {
				form.Del(k)
			} else {
				form.Set(k, v)
			}
			return form
		}
		authID := approve.Get("authentication")
		staleApprove, _ := f.sim.ChallengeForms(providers.Callback{MerchantID: f.merchantID, Mode: billing.ModeTest,
			SessionID: p.ID, AuthenticationID: authID}, time.Now().Add(-time.Hour))
		otherApprove, _ := f.sim.ChallengeForms(providers.Callback{MerchantID: "mer_someone_else", Mode: billing.ModeTest,
			SessionID: p.ID, AuthenticationID: authID}, time.Now())
		wrongAuth, _ := f.sim.ChallengeForms(providers.Callback{MerchantID: f.merchantID, Mode: billing.ModeTest,
			SessionID: p.ID, AuthenticationID: "3ds_sim_not_this_one"}, time.Now())
		for _, tc := range []struct {
			name, path string
			form       url.Values
			code       int
		}{
			{"unsigned", "/v1/providers/simulator/callback", with("sig", ""), http.StatusUnauthorized},
			{"tampered answer", "/v1/providers/simulator/callback", with("answer", "deny"), http.StatusUnauthorized},
			{"tampered session", "/v1/providers/simulator/callback", with("session", "pay_other"), http.StatusUnauthorized},
			{"stale", "/v1/providers/simulator/callback", staleApprove, http.StatusBadRequest},
			{"another merchant's session", "/v1/providers/simulator/callback", otherApprove, http.StatusBadRequest},
			{"another authentication", "/v1/providers/simulator/callback", wrongAuth, http.StatusBadRequest},
			{"unknown provider", "/v1/providers/nope/callback", approve, http.StatusNotFound},
		} {
			if code, body := post(tc.path, tc.form); code != tc.code {
				t.Errorf("%s: %d, want %d: %s", tc.name, code, tc.code, body)
			}
		}
		var got hostedBody
		f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
		if got.Status != "requires_action" || f.chargesOf(p.ID) != 0 {
			t.Fatalf("after refused callbacks: %+v, %d charges; want nothing changed", got, f.chargesOf(p.ID))
		}

		code, u2, done := c.answer(u, acs, "approve")
		if m := outcome.FindStringSubmatch(done); code != http.StatusOK || m == nil || m[1] != "succeeded" || !strings.HasSuffix(u2, "/done") {
			t.Fatalf("the signed approval: %d %s %s", code, u2, done)
		}
		for name, form := range map[string]url.Values{"replayed approval": approve, "deny after approval": func() url.Values {
			_, deny := f.sim.ChallengeForms(providers.Callback{MerchantID: f.merchantID, Mode: billing.ModeTest,
				SessionID: p.ID, AuthenticationID: authID}, time.Now())
			return deny
		}()} {
			if code, body := post("/v1/providers/simulator/callback", form); code != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400: %s", name, code, body)
			}
		}
		f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
		if got.Status != "succeeded" || f.chargesOf(p.ID) != 1 {
			t.Errorf("payment %+v with %d charges, want succeeded once", got, f.chargesOf(p.ID))
		}
	})
}

package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	pageCSRF    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	pageOutcome = regexp.MustCompile(`id="outcome" data-status="([a-z_]+)"`)
	approveForm = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)" id="approve-form">(.*?)</form>`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// TestHostedPaymentSurvivesDevKill: the customer is on the simulated 3-D Secure page
// when `recurring dev` is SIGKILLed; after a restart on the same data dir they approve
// the challenge and the payment completes, once, with the card saved. The session (in
// the store), its workflow's wait (in Temporal) and the page's cookie all survive.
func TestHostedPaymentSurvivesDevKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dataDir := t.TempDir()
	ports := freePorts(t)
	const key = "sk_test_hosted0123456789abcdef"
	d := startDev(t, dataDir, ports, key)

	var cus struct {
		ID string `json:"id"`
	}
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers", `{"email":"ada@example.com"}`, &cus)
	var pay struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		PaymentURL    string `json:"payment_url"`
		PaymentMethod string `json:"payment_method"`
		PaymentType   string `json:"payment_type"`
	}
	call(t, d.apiURL, key, http.MethodPost, "/v1/payments", fmt.Sprintf(
		`{"customer":%q,"amount":4200,"currency":"GBP","save_card":true,"expires_in":600,"return_url":"https://shop.example/thanks"}`,
		cus.ID), &pay)
	if pay.Status != "requires_action" || !strings.HasPrefix(pay.PaymentURL, d.apiURL+"/pay/") {
		t.Fatalf("hosted payment %+v", pay)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	read := func(res *http.Response, err error) (string, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.Request.URL.String(), string(b)
	}
	_, page := read(browser.Get(pay.PaymentURL))
	csrf := pageCSRF.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no form on the page: %s", page)
	}
	acsURL, acs := read(browser.PostForm(pay.PaymentURL, url.Values{"csrf": {csrf[1]}, "number": {"4000000000003220"},
		"exp_month": {"12"}, "exp_year": {"2034"}, "cvc": {"123"}}))
	form := approveForm.FindStringSubmatch(acs)
	if !strings.Contains(acsURL, "/challenge?") || form == nil {
		t.Fatalf("after the card: %s %s", acsURL, acs)
	}
	// The simulated ACS's Approve: its signed answer, posted to the provider callback.
	answer := url.Values{}
	for _, f := range hiddenInput.FindAllStringSubmatch(form[2], -1) {
		answer.Set(f[1], html.UnescapeString(f[2]))
	}
	callbackURL := d.apiURL + html.UnescapeString(form[1])

	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	d = startDev(t, dataDir, ports, key)

	_, done := read(browser.PostForm(callbackURL, answer))
	if m := pageOutcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
		t.Fatalf("approving after the restart: %s", done)
	}
	call(t, d.apiURL, key, http.MethodGet, "/v1/payments/"+pay.ID, "", &pay)
	if pay.Status != "succeeded" || pay.PaymentType != "initial" || pay.PaymentMethod == "" {
		t.Fatalf("payment after the restart %+v", pay)
	}
	var pm struct {
		Status string `json:"status"`
	}
	call(t, d.apiURL, key, http.MethodGet, "/v1/payment-methods/"+pay.PaymentMethod, "", &pm)
	if pm.Status != "active" {
		t.Errorf("the saved card is %s, want active", pm.Status)
	}
	// Approving again (the back button) is a replayed callback: refused, nothing changes.
	res, err := browser.PostForm(callbackURL, answer)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("a second approval = %d, want 400", res.StatusCode)
	}
	var evs struct {
		Data []struct {
			Data struct {
				Object map[string]any `json:"object"`
			} `json:"data"`
		} `json:"data"`
	}
	call(t, d.apiURL, key, http.MethodGet, "/v1/events?type=payment.succeeded", "", &evs)
	if len(evs.Data) != 1 || evs.Data[0].Data.Object["id"] != pay.ID {
		t.Errorf("payment.succeeded events %+v, want one for %s", evs.Data, pay.ID)
	}
}

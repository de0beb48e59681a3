// Package apstest is an in-process test double of Amazon Payment Services' API, built
// from its public documentation: JSON requests to /FortAPI/paymentApi (PURCHASE,
// CHECK_STATUS, REFUND) and the Merchant Page 2.0 TOKENIZATION form on
// /FortAPI/paymentPage. It checks the access code, merchant identifier, required
// fields and the request signature of everything it receives (message 008 on a
// mismatch), signs every answer with the response phrase, keeps each order under its
// merchant_reference (a second order under one is 00007, duplicate order number), and
// can be told to time out, answer 5xx, sign an answer wrongly, or decline.
package apstest

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
)

// Account is the merchant account the double serves.
type Account struct {
	AccessCode, MerchantIdentifier, RequestPhrase, ResponsePhrase, SHAType string
}

// Config returns the adapter configuration for a, pointed at the double.
func (d *Double) Config() aps.Config {
	a := d.account
	return aps.Config{AccessCode: a.AccessCode, MerchantIdentifier: a.MerchantIdentifier, RequestPhrase: a.RequestPhrase,
		ResponsePhrase: a.ResponsePhrase, SHAType: a.SHAType, BaseURL: d.URL}
}

// Test cards. Any other Luhn-valid number succeeds.
const (
	CardVisa          = "4005550000000001" // APS's documented test Visa: succeeds
	CardMastercard    = "5123456789012346" // APS's documented test Mastercard: succeeds
	CardDeclined      = "4000000000000002" // 13666, acquirer 05 (do not honor)
	CardNoFunds       = "4000000000009995" // 13029 insufficient funds
	CardExpired       = "4000000000000069" // 13012 card expired
	CardLost          = "4000000000009987" // 13666, acquirer 41 (lost card)
	CardThreeDS       = "4000002500003155" // ECOMMERCE answers 20064 with a 3ds_url
	CardNeverAnswers  = "4000000000000259" // the order is stored, the answer never comes
	CardRecurringOnly = "4000000000000341" // ECOMMERCE succeeds, RECURRING declines 13666 acquirer 57
)

// outcome is what a purchase with a test card answers.
type outcome struct{ code, acquirer string }

var cards = map[string]outcome{
	CardDeclined: {"13666", "05"}, CardNoFunds: {"13029", "51"}, CardExpired: {"13012", "54"}, CardLost: {"13666", "41"},
}

// FaultKind is a failure the double can be told to produce on the next paymentApi call.
type FaultKind int

// Faults.
const (
	// Timeout stores the order, then withholds the answer until the caller gives up.
	Timeout FaultKind = iota + 1
	// ServerError stores the order, then answers HTTP 502.
	ServerError
	// BadSignature stores the order and answers with a signature made with another phrase.
	BadSignature
	// Decline declines the next purchase with Fault.Code (and Fault.Acquirer).
	Decline
	// Refuse answers the next call of any command with Fault.Code, doing nothing.
	Refuse
)

// Fault is one failure to produce.
type Fault struct {
	Kind           FaultKind
	Code, Acquirer string
	// Status is the HTTP status of a ServerError (502 when zero).
	Status int
}

// Order is a stored purchase, as CHECK_STATUS reports it.
type Order struct {
	Reference, FortID, Code, Acquirer, Amount, Currency, ECI, Token, Email, Agreement string
	Refunded                                                                          int64
	// Command is PURCHASE or AUTHORIZATION; an authorization is Captured (its captured
	// amount) or voided (Code 08000) later.
	Command  string
	Captured string
	// ReturnURL and Extras are what a 3-D Secure return sends back.
	ReturnURL string
	Extras    map[string]string
}

// Request is a paymentApi request as received, minus the signature.
type Request map[string]string

// Double is the test double. It stops with the test.
type Double struct {
	// URL is the scheme and host, for aps.Config.BaseURL.
	URL     string
	account Account

	mu          sync.Mutex
	orders      map[string]*Order
	tokens      map[string]string // token_name → card number
	maintenance map[string]map[string]string
	faults      []Fault
	requests    []Request
	seq         int
}

// New starts a double serving account.
func New(t testing.TB, account Account) *Double {
	d := &Double{account: account, orders: map[string]*Order{}, tokens: map[string]string{}, maintenance: map[string]map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// Inject queues faults for the next paymentApi calls, in order.
func (d *Double) Inject(f ...Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = append(d.faults, f...)
}

// Orders returns the stored orders.
func (d *Double) Orders() []Order {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Order{}
	for _, o := range d.orders {
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b Order) int { return strings.Compare(a.FortID, b.FortID) })
	return out
}

// Requests returns the paymentApi requests received, in order.
func (d *Double) Requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.requests)
}

func (d *Double) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/3ds/"):
		d.threeDS(w, r)
	case r.URL.Path == aps.APIPath:
		d.api(w, r)
	case r.URL.Path == aps.PagePath:
		d.page(w, r)
	default:
		http.NotFound(w, r)
	}
}

var (
	referenceRule = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)
	amountRule    = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)
	currencyRule  = regexp.MustCompile(`^[A-Z]{3}$`)
	emailRule     = regexp.MustCompile(`^[A-Za-z0-9_.+@-]{3,254}$`)
)

func (d *Double) api(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		http.Error(w, "POST application/json only", http.StatusMethodNotAllowed)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var in map[string]string
	if err := json.Unmarshal(raw, &in); err != nil {
		d.answer(w, map[string]string{"response_code": "00073", "response_message": "Invalid request format", "status": "00"}, Fault{})
		return
	}
	d.mu.Lock()
	req := maps.Clone(in)
	delete(req, "signature")
	d.requests = append(d.requests, req)
	var fault Fault
	if len(d.faults) > 0 {
		fault, d.faults = d.faults[0], d.faults[1:]
	}
	out := d.handle(in, fault)
	d.mu.Unlock()

	switch fault.Kind {
	case Timeout:
		<-r.Context().Done()
		return
	case ServerError:
		status := fault.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	if in["merchant_reference"] != "" && out["merchant_reference"] == "" {
		out["merchant_reference"] = in["merchant_reference"]
	}
	if out["response_code"] == "hang" {
		<-r.Context().Done()
		return
	}
	d.answer(w, out, fault)
}

// handle decides the answer; it runs under d.mu.
func (d *Double) handle(in map[string]string, fault Fault) map[string]string {
	// Every parameter sent comes back, as the documentation says.
	out := maps.Clone(in)
	delete(out, "signature")
	fail := func(code, msg string) map[string]string {
		out["response_code"], out["response_message"], out["status"] = code, msg, code[:2]
		return out
	}
	switch {
	case in["access_code"] != d.account.AccessCode:
		return fail("00010", "Invalid access code.")
	case in["merchant_identifier"] != d.account.MerchantIdentifier:
		return fail("00009", "Invalid merchant identifier.")
	case !aps.Verify(in, d.account.RequestPhrase, d.account.SHAType):
		return fail("00008", "Signature mismatch.")
	case in["language"] != "en" && in["language"] != "ar":
		return fail("00001", "Missing parameter.")
	}
	if fault.Kind == Refuse {
		return fail(fault.Code, "Refused by the test double.")
	}
	cmd := in["command"]
	if q := in["query_command"]; q != "" {
		cmd = q
	}
	for _, k := range required[cmd] {
		if in[k] == "" {
			return fail("00001", "Missing parameter: "+k)
		}
	}
	switch cmd {
	case "PURCHASE", "AUTHORIZATION":
		return d.purchase(in, out, fault, fail)
	case "CAPTURE":
		return d.capture(in, out, fail)
	case "VOID_AUTHORIZATION":
		o, ok := d.orders[in["merchant_reference"]]
		switch {
		case !ok:
			return fail("09036", "Order not found.")
		case o.Command != "AUTHORIZATION" || o.Captured != "" || (o.Code != "02000" && o.Code != "08000"):
			return fail("09034", "Operation not allowed.")
		}
		o.Code = "08000"
		out["response_code"], out["response_message"], out["status"] = "08000", "Success.", "08"
		return out
	case "CHECK_STATUS":
		o, ok := d.orders[in["merchant_reference"]]
		if !ok {
			return fail("12036", "Order not found.")
		}
		out["response_code"], out["response_message"], out["status"] = "12000", "Success.", "12"
		code := o.Code
		if o.Captured != "" {
			code = "04000"
		}
		out["fort_id"], out["transaction_code"], out["transaction_status"] = o.FortID, code, code[:2]
		out["transaction_message"] = "Transaction " + o.Code
		if o.Acquirer != "" {
			out["acquirer_response_code"] = o.Acquirer
		}
		switch {
		case o.Code == "14000":
			out["captured_amount"], out["authorized_amount"] = o.Amount, o.Amount
			out["refunded_amount"] = strconv.FormatInt(o.Refunded, 10)
		case o.Code == "02000":
			out["authorized_amount"], out["captured_amount"] = o.Amount, o.Captured
			if o.Captured == "" {
				out["captured_amount"] = "0"
			}
		}
		return out
	case "REFUND":
		if prev, ok := d.maintenance[in["maintenance_reference"]]; ok && in["maintenance_reference"] != "" {
			return maps.Clone(prev)
		}
		o, ok := d.orders[in["merchant_reference"]]
		if !ok {
			return fail("07036", "Order not found.")
		}
		amount, _ := strconv.ParseInt(in["amount"], 10, 64)
		captured, _ := strconv.ParseInt(o.Amount, 10, 64)
		switch {
		case o.Code != "14000":
			return fail("07034", "Operation not allowed.")
		case in["currency"] != o.Currency:
			return fail("07013", "Invalid currency.")
		case amount <= 0 || amount > captured-o.Refunded:
			return fail("07048", "Operation amount exceeds captured amount.")
		}
		o.Refunded += amount
		out["fort_id"], out["response_code"], out["response_message"], out["status"] = o.FortID, "06000", "Success.", "06"
		if in["maintenance_reference"] != "" {
			d.maintenance[in["maintenance_reference"]] = maps.Clone(out)
		}
		return out
	}
	return fail("00004", "Invalid command.")
}

var required = map[string][]string{
	"PURCHASE":           {"merchant_reference", "amount", "currency", "customer_email", "token_name"},
	"CHECK_STATUS":       {"merchant_reference"},
	"REFUND":             {"merchant_reference", "amount", "currency"},
	"AUTHORIZATION":      {"merchant_reference", "amount", "currency", "customer_email", "token_name"},
	"CAPTURE":            {"merchant_reference", "amount", "currency"},
	"VOID_AUTHORIZATION": {"merchant_reference"},
}

// capture captures an authorization once (a repeat under the same
// maintenance_reference answers the first capture).
func (d *Double) capture(in, out map[string]string, fail func(code, msg string) map[string]string) map[string]string {
	if prev, ok := d.maintenance[in["maintenance_reference"]]; ok && in["maintenance_reference"] != "" {
		return maps.Clone(prev)
	}
	o, ok := d.orders[in["merchant_reference"]]
	switch {
	case !ok:
		return fail("05036", "Order not found.")
	case o.Command != "AUTHORIZATION" || o.Code != "02000" || o.Captured != "":
		return fail("05034", "Operation not allowed.")
	case in["amount"] != o.Amount || in["currency"] != o.Currency:
		return fail("05005", "Invalid amount.")
	}
	o.Captured = in["amount"]
	out["response_code"], out["response_message"], out["status"], out["fort_id"] = "04000", "Success.", "04", o.FortID
	if in["maintenance_reference"] != "" {
		d.maintenance[in["maintenance_reference"]] = maps.Clone(out)
	}
	return out
}

// threeDS is the issuer's page behind a 3ds_url: ?answer=approve or deny settles the
// authorization and sends the customer to the request's return_url with the signed
// result, merchant_extra fields included, as APS returns it.
func (d *Double) threeDS(w http.ResponseWriter, r *http.Request) {
	fortID := strings.TrimPrefix(r.URL.Path, "/3ds/")
	d.mu.Lock()
	var o *Order
	for _, cand := range d.orders {
		if cand.FortID == fortID {
			o = cand
		}
	}
	if o == nil || o.Code != "20064" {
		d.mu.Unlock()
		http.Error(w, "no authentication waiting", http.StatusNotFound)
		return
	}
	answer := r.URL.Query().Get("answer")
	if answer == "" {
		d.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>APS test 3-D Secure</title><a href="?answer=approve">Approve</a> <a href="?answer=deny">Deny</a>`)
		return
	}
	o.Code = "02000"
	if o.Command == "PURCHASE" {
		o.Code = "14000"
	}
	if answer != "approve" {
		o.Code = map[bool]string{true: "03065", false: "13065"}[o.Command == "AUTHORIZATION"]
	}
	out := map[string]string{"command": o.Command, "merchant_reference": o.Reference, "fort_id": o.FortID, "amount": o.Amount,
		"currency": o.Currency, "response_code": o.Code, "status": o.Code[:2], "eci": o.ECI, "customer_email": o.Email,
		"access_code": d.account.AccessCode, "merchant_identifier": d.account.MerchantIdentifier, "language": "en",
		"response_message": map[bool]string{true: "Success.", false: "3-D Secure check failed."}[answer == "approve"]}
	for k, v := range o.Extras {
		out[k] = v
	}
	ret := o.ReturnURL
	d.mu.Unlock()
	sig, _ := aps.Sign(out, d.account.ResponsePhrase, d.account.SHAType)
	out["signature"] = sig
	q := url.Values{}
	for k, v := range out {
		q.Set(k, v)
	}
	http.Redirect(w, r, ret+"?"+q.Encode(), http.StatusFound)
}

func (d *Double) purchase(in, out map[string]string, fault Fault, fail func(code, msg string) map[string]string) map[string]string {
	switch {
	case !referenceRule.MatchString(in["merchant_reference"]):
		return fail("00002", "Invalid parameter format: merchant_reference")
	case !amountRule.MatchString(in["amount"]):
		return fail("00005", "Invalid amount.")
	case !currencyRule.MatchString(in["currency"]):
		return fail("00013", "Invalid currency.")
	case !emailRule.MatchString(in["customer_email"]):
		return fail("00002", "Invalid parameter format: customer_email")
	case in["eci"] != "ECOMMERCE" && in["eci"] != "RECURRING" && in["eci"] != "MOTO":
		return fail("00033", "Parameter value not allowed: eci")
	case d.orders[in["merchant_reference"]] != nil:
		return fail("00007", "Duplicate order number.")
	}
	number, ok := d.tokens[in["token_name"]]
	if !ok {
		return fail("00044", "Token name does not exist.")
	}
	d.seq++
	o := &Order{Reference: in["merchant_reference"], FortID: fmt.Sprintf("1699%014d", d.seq), Amount: in["amount"],
		Currency: in["currency"], ECI: in["eci"], Token: in["token_name"], Email: in["customer_email"], Agreement: in["agreement_id"],
		Command: in["command"], ReturnURL: in["return_url"], Extras: map[string]string{}}
	for k, v := range in {
		if strings.HasPrefix(k, "merchant_extra") {
			o.Extras[k] = v
		}
	}
	success := "14000"
	if o.Command == "AUTHORIZATION" {
		success = "02000"
	}
	res := outcome{code: success}
	if c, ok := cards[number]; ok {
		res = c
	}
	switch {
	case fault.Kind == Decline:
		res = outcome{fault.Code, fault.Acquirer}
	case number == CardThreeDS && in["eci"] == "ECOMMERCE":
		res = outcome{code: "20064"}
		if in["return_url"] != "" {
			out["3ds_url"] = d.URL + "/3ds/" + o.FortID
		}
	case number == CardRecurringOnly && in["eci"] == "RECURRING":
		res = outcome{"13666", "57"}
	}
	if o.Command == "AUTHORIZATION" && strings.HasPrefix(res.code, "13") {
		res.code = "03" + res.code[2:] // authorization failed
	}
	o.Code, o.Acquirer = res.code, res.acquirer
	d.orders[o.Reference] = o
	if number == CardNeverAnswers {
		out["response_code"] = "hang"
		return out
	}
	out["fort_id"], out["response_code"], out["status"] = o.FortID, res.code, res.code[:2]
	out["response_message"] = map[bool]string{true: "Success.", false: "Transaction declined."}[res.code == success]
	out["payment_option"] = strings.ToUpper(providers.Brand(number))
	if res.acquirer != "" {
		out["acquirer_response_code"] = res.acquirer
	}
	if res.code == success {
		out["authorization_code"] = fmt.Sprintf("%06d", d.seq)
	}
	return out
}

// answer signs out with the response phrase (another phrase for BadSignature) and
// writes it.
func (d *Double) answer(w http.ResponseWriter, out map[string]string, fault Fault) {
	phrase := d.account.ResponsePhrase
	if fault.Kind == BadSignature {
		phrase = "not-the-response-phrase"
	}
	sig, _ := aps.Sign(out, phrase, d.account.SHAType)
	out["signature"] = sig
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// page is the Merchant Page 2.0 TOKENIZATION form: it answers with the form APS posts
// to return_url, carrying token_name and the masked card, signed with the response
// phrase.
func (d *Double) page(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	in := map[string]string{}
	for k, v := range r.PostForm {
		in[k] = v[0]
	}
	out := map[string]string{}
	for _, k := range []string{"service_command", "access_code", "merchant_identifier", "merchant_reference", "language", "return_url", "card_holder_name"} {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
	number, expiry := in["card_number"], in["expiry_date"]
	code := "18000"
	switch {
	case in["service_command"] != "TOKENIZATION":
		code = "00004"
	case in["access_code"] != d.account.AccessCode:
		code = "00010"
	case !aps.VerifyTokenizationForm(in, d.account.RequestPhrase, d.account.SHAType):
		code = "00008"
	case in["return_url"] == "":
		code = "00037"
	case !providers.Luhn(number):
		code = "17016"
	case len(expiry) != 4 || in["card_security_code"] == "":
		code = "17002"
	}
	if code == "18000" {
		d.mu.Lock()
		d.seq++
		tok := fmt.Sprintf("tok%08d", d.seq)
		d.tokens[tok] = number
		d.mu.Unlock()
		out["token_name"], out["expiry_date"], out["card_bin"] = tok, expiry, number[:6]
		out["card_number"] = number[:6] + strings.Repeat("*", len(number)-10) + number[len(number)-4:]
	}
	out["response_code"], out["status"] = code, code[:2]
	out["response_message"] = map[bool]string{true: "Success.", false: "Tokenization failed."}[code == "18000"]
	sig, _ := aps.Sign(out, d.account.ResponsePhrase, d.account.SHAType)
	out["signature"] = sig
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><form method="post" action="%s">`, html.EscapeString(out["return_url"]))
	for _, k := range slices.Sorted(maps.Keys(out)) {
		fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(out[k]))
	}
	b.WriteString(`</form><script>document.forms[0].submit()</script>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

// AddToken registers a card saved at APS before the engine knew it (an imported token).
func (d *Double) AddToken(name, number string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tokens[name] = number
}

// Package axervetest is an in-process test double of Axerve's REST API, built from its
// public reference (api.axerve.com): shop/token (POST to tokenize a card, GET to list
// the shop's tokens), payment/create, payment/submit (header paymentToken),
// payment/detail and payment/refund under /api/v1, every answer in the
// {error: {code, description}, payload} envelope. It checks the API key
// ("Authorization: apikey …", 403 with code 1169 otherwise) and the shop login, the
// amount's decimal format, the currency against Axerve's table and the required
// fields; keeps each payment under its shopTransactionID (a second payment under an id
// already submitted is refused with 1137); and can be told to time out, answer 5xx,
// answer garbage, decline, or refuse.
//
// Axerve does not sign its REST answers, so there is no bad signature to inject; an
// unreadable answer (Garble) is the fault that stands for one.
//
// Where the reference is silent the double does what the adapter assumes, listed in
// providers/axerve/README.md: payment/detail answers 2011 for an unknown
// shopTransactionID, and a payment created but never submitted reads UNSUBMITTED.
package axervetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers/axerve"
)

// Shop is the Axerve shop the double serves.
type Shop struct{ ShopLogin, APIKey string }

// Test cards. Any other Luhn-valid number succeeds.
const (
	CardVisa          = "4775718800002026" // Axerve's example Visa: succeeds
	CardMastercard    = "5412388800004012" // succeeds
	CardNoFunds       = "4000000000009995" // KO 251 insufficient credit
	CardDeclined      = "4000000000000002" // KO 74 authorization denied
	CardExpired       = "4000000000000069" // KO 433 card expired
	CardBlocked       = "4000000000009987" // KO 441 blocked card
	CardThreeDS       = "4000002500003155" // customer-initiated: 8006 with a 3-D Secure redirect
	CardNeverAnswers  = "4000000000000259" // the payment is authorized, the answer never comes
	CardRecurringOnly = "4000000000000341" // 03F succeeds, 03N answers KO 57 (blocked for this use)
)

var cardCodes = map[string]string{CardNoFunds: "251", CardDeclined: "74", CardExpired: "433", CardBlocked: "441"}

// FaultKind is a failure the double can be told to produce on the next call.
type FaultKind int

// Faults.
const (
	// Timeout processes the call, then withholds the answer until the caller gives up.
	Timeout FaultKind = iota + 1
	// ServerError processes the call, then answers HTTP 502 (or Fault.Status).
	ServerError
	// Garble processes the call, then answers something that is not Axerve's JSON.
	Garble
	// Decline answers the next submit KO with Fault.Code.
	Decline
	// Refuse answers the next call of any kind with error Fault.Code, doing nothing.
	Refuse
)

// Fault is one failure to produce.
type Fault struct {
	Kind   FaultKind
	Code   string
	Status int
}

// Payment is a stored payment, as payment/detail reports it.
type Payment struct {
	PaymentID, PaymentToken, ShopTransactionID, Amount, Currency, Type, Method, Token, Previous, BuyerEmail string
	// Result is "" until submitted, then OK or KO (and ErrorCode); WAITING while the
	// payer is on the 3-D Secure page of a submit that gave a buyerOK URL.
	Result, ErrorCode string
	Refunded          int64
	// BuyerOK and BuyerKO are the submit's responseURLs; Canceled is set by
	// payment/cancel.
	BuyerOK, BuyerKO string
	Canceled         bool
}

// Request is one call as received: its path and JSON body (card numbers and CVVs
// replaced by "…", as a real log would keep them).
type Request struct {
	Path string
	Body map[string]any
}

// Double is the test double. It stops with the test.
type Double struct {
	// URL is the scheme and host, for axerve.Config.BaseURL.
	URL  string
	shop Shop

	mu       sync.Mutex
	payments []*Payment
	tokens   map[string]string // card token → number
	paypal   map[string]bool   // PayPal agreement token → active
	faults   []Fault
	requests []Request
	seq      int
}

// New starts a double serving shop.
func New(t testing.TB, shop Shop) *Double {
	d := &Double{shop: shop, tokens: map[string]string{}, paypal: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// Config returns the adapter configuration for the shop, pointed at the double.
func (d *Double) Config() axerve.Config {
	return axerve.Config{ShopLogin: d.shop.ShopLogin, APIKey: d.shop.APIKey, BaseURL: d.URL}
}

// Inject queues faults for the next calls, in order.
func (d *Double) Inject(f ...Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = append(d.faults, f...)
}

// AddToken stores a card token made before the engine (for token import).
func (d *Double) AddToken(number string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tokenize(number)
}

// AddPayPalAgreement stores a billing agreement a payer approved at PayPal and returns
// its token.
func (d *Double) AddPayPalAgreement() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	tok := fmt.Sprintf("B-%017d", d.seq)
	d.paypal[tok] = true
	return tok
}

// RevokePayPalAgreement cancels an agreement, as the payer can at PayPal: its charges
// then fail with 1165 (token not found).
func (d *Double) RevokePayPalAgreement(tok string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paypal[tok] = false
}

// Payments returns the stored payments in creation order.
func (d *Double) Payments() []Payment {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Payment, len(d.payments))
	for i, p := range d.payments {
		out[i] = *p
	}
	return out
}

// Requests returns the calls received, in order.
func (d *Double) Requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.requests)
}

func (d *Double) tokenize(number string) string {
	for tok, n := range d.tokens {
		if n == number {
			return tok
		}
	}
	d.seq++
	letters := strings.ToUpper(strconv.FormatInt(int64(d.seq)+46656, 36)) // at least four letters or digits
	tok := number[:6] + fmt.Sprintf("%06s", letters) + number[len(number)-4:]
	d.tokens[tok] = number
	return tok
}

var (
	amountRule   = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,2})?$`) // and at most 9 characters
	shopTxIDRule = regexp.MustCompile(`^[^&\s§()*<>,;:/\[\]?=~°%]{1,50}$`)
)

type envelope struct {
	Error   apiError `json:"error"`
	Payload any      `json:"payload"`
}

type apiError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

func (d *Double) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/pagam/pagam3d.aspx" || r.URL.Path == PayPalPath {
		d.threeDS(w, r)
		return
	}
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, axerve.APIPath+"/"), "/")
	var body map[string]any
	if r.Method == http.MethodPost {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.NewDecoder(r.Body).Decode(&body) != nil {
			write(w, http.StatusBadRequest, envelope{Error: apiError{"1173", "Bad input format"}, Payload: map[string]any{}})
			return
		}
	}
	d.mu.Lock()
	d.requests = append(d.requests, Request{Path: path, Body: redact(body)})
	var fault Fault
	if len(d.faults) > 0 {
		fault, d.faults = d.faults[0], d.faults[1:]
	}
	status, out := d.handle(r, path, body, fault)
	d.mu.Unlock()

	switch fault.Kind {
	case Timeout:
		<-r.Context().Done()
		return
	case ServerError:
		s := fault.Status
		if s == 0 {
			s = http.StatusBadGateway
		}
		http.Error(w, http.StatusText(s), s)
		return
	case Garble:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Service temporarily unavailable</body></html>"))
		return
	}
	if status == 0 { // the never-answering card
		<-r.Context().Done()
		return
	}
	write(w, status, out)
}

func write(w http.ResponseWriter, status int, e envelope) {
	w.Header().Set("Content-Type", "text/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

func redact(body map[string]any) map[string]any {
	b, _ := json.Marshal(body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		for k, v := range m {
			switch v := v.(type) {
			case map[string]any:
				walk(v)
			default:
				if k == "number" || k == "CVV" {
					m[k] = "…"
				}
			}
		}
	}
	walk(out)
	return out
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

func ok(payload any) (int, envelope) {
	return http.StatusOK, envelope{Error: apiError{"0", "request correctly processed"}, Payload: payload}
}

func refuse(status int, code, desc string) (int, envelope) {
	return status, envelope{Error: apiError{code, desc}, Payload: map[string]any{}}
}

// handle decides the answer; it runs under d.mu.
func (d *Double) handle(r *http.Request, path string, in map[string]any, fault Fault) (int, envelope) {
	var pay *Payment
	switch {
	case path == "payment/submit":
		tok := r.Header.Get("paymentToken")
		for _, p := range d.payments {
			if p.PaymentToken == tok && tok != "" {
				pay = p
			}
		}
		if pay == nil || pay.Result != "" {
			return refuse(http.StatusForbidden, "1170", "invalid paymentToken")
		}
	case r.Header.Get("Authorization") == "":
		return refuse(http.StatusForbidden, "1171", "missing authentication header")
	case r.Header.Get("Authorization") != "apikey "+d.shop.APIKey:
		return refuse(http.StatusForbidden, "1169", "invalid Merchant APIKEY")
	}
	shop := str(in, "shopLogin")
	if r.Method == http.MethodGet {
		shop, _, _ = strings.Cut(strings.TrimPrefix(path, "shop/token/"), "/")
	}
	if shop != d.shop.ShopLogin {
		return refuse(http.StatusBadRequest, "1131", "Shop Login not recognized")
	}
	if fault.Kind == Refuse {
		return refuse(http.StatusBadRequest, fault.Code, "refused by the test double")
	}
	switch {
	case path == "shop/token" && r.Method == http.MethodPost:
		return d.tokenizeCall(in)
	case strings.HasPrefix(path, "shop/token/") && r.Method == http.MethodGet:
		list := []string{}
		for tok := range d.tokens {
			list = append(list, tok)
		}
		slices.Sort(list)
		return ok(map[string]any{"tokens": list})
	case path == "payment/create":
		return d.create(in)
	case path == "payment/submit":
		return d.submit(pay, in, fault)
	case path == "payment/detail":
		return d.detail(in)
	case path == "payment/refund":
		return d.refund(in)
	case path == "payment/cancel":
		p := d.find(in)
		if p == nil || p.Result != "OK" || p.Canceled || p.Refunded > 0 {
			return ok(map[string]any{"transactionType": "cancel", "transactionResult": "KO", "transactionErrorCode": "2017"})
		}
		p.Canceled = true
		return ok(map[string]any{"transactionType": "cancel", "transactionResult": "OK", "paymentID": p.PaymentID,
			"shopTransactionID": p.ShopTransactionID})
	}
	return refuse(http.StatusNotFound, "1105", "Invalid parameter value: unknown method "+path)
}

func (d *Double) tokenizeCall(in map[string]any) (int, envelope) {
	number := str(in, "creditCard", "number")
	if str(in, "requestToken") == "" || number == "" || str(in, "creditCard", "expMonth") == "" || str(in, "creditCard", "expYear") == "" {
		return refuse(http.StatusBadRequest, "1461", "Creditcard data missing")
	}
	if len(number) < 12 || strings.Trim(number, "0123456789") != "" {
		return refuse(http.StatusBadRequest, "1120", "check-digit error")
	}
	if number == CardExpired {
		return ok(map[string]any{"transactionType": "REQUESTTOKEN", "transactionResult": "KO", "authorizationErrorCode": "433", "token": ""})
	}
	return ok(map[string]any{"transactionType": "REQUESTTOKEN", "transactionResult": "OK", "token": d.tokenize(number),
		"tokenExpiryMonth": str(in, "creditCard", "expMonth"), "tokenExpiryYear": str(in, "creditCard", "expYear")})
}

func (d *Double) create(in map[string]any) (int, envelope) {
	for _, k := range []string{"amount", "currency", "shopTransactionID"} {
		if str(in, k) == "" {
			return refuse(http.StatusBadRequest, "1108", "Missing mandatory parameter "+k)
		}
	}
	amount, currency, id := str(in, "amount"), str(in, "currency"), str(in, "shopTransactionID")
	c, err := billing.LookupCurrency(currency)
	switch {
	case err != nil || !slices.Contains(axerve.Currencies, currency):
		return refuse(http.StatusBadRequest, "1111", "Invalid currency code")
	case !amountRule.MatchString(amount):
		return refuse(http.StatusBadRequest, "1113", "Not numeric amount")
	case len(amount) > 9:
		return refuse(http.StatusBadRequest, "1147", "Amount too big")
	case strings.Contains(amount, ".") && len(amount)-strings.Index(amount, ".")-1 > c.Exponent:
		return refuse(http.StatusBadRequest, "1114", "Wrong number of decimal digits")
	case !shopTxIDRule.MatchString(id):
		return refuse(http.StatusBadRequest, "4801", "Invalid ShopTransactionID value")
	}
	for _, p := range d.payments {
		if p.ShopTransactionID == id && p.Result != "" {
			return refuse(http.StatusBadRequest, "1137", "transaction already processed before")
		}
	}
	method := "CREDITCARD"
	if types, _ := in["paymentType"].([]any); len(types) == 1 {
		method, _ = types[0].(string)
	}
	d.seq++
	p := &Payment{PaymentID: fmt.Sprintf("%012d", 146972136000+d.seq), PaymentToken: fmt.Sprintf("a7d3cb40-0000-4e90-a7f6-%012d", d.seq),
		ShopTransactionID: id, Amount: amount, Currency: currency, Type: str(in, "transDetails", "type"), Method: method,
		Previous: str(in, "transDetails", "previousTransDetails", "paymentID"), BuyerEmail: str(in, "buyerEmail")}
	d.payments = append(d.payments, p)
	return ok(map[string]any{"paymentToken": p.PaymentToken, "paymentID": p.PaymentID,
		"userRedirect": map[string]any{"href": d.URL + "/pagam/src/index.html?paymentID=" + p.PaymentID}})
}

func (d *Double) submit(p *Payment, in map[string]any, fault Fault) (int, envelope) {
	kind := str(in, "paymentType")
	out := func(result, code, desc string) (int, envelope) {
		p.Result, p.ErrorCode = result, code
		return ok(map[string]any{"transactionType": "submit", "transactionResult": result, "transactionErrorCode": code,
			"transactionErrorDescription": desc, "shopTransactionID": p.ShopTransactionID, "paymentID": p.PaymentID,
			"currency": p.Currency, "bankTransactionID": "bt" + p.PaymentID, "paymentMethod": kind,
			"userRedirect": map[string]any{"href": d.URL + "/pagam/isprisp.aspx"}})
	}
	switch kind {
	case "PAYPAL":
		tok := str(in, "paymentTypeDetails", "payPal", "token")
		if p.Method != "PAYPAL" {
			return refuse(http.StatusBadRequest, "1403", "Wrong paymentType")
		}
		if tok == "" {
			// The first payment: the payer approves an agreement at PayPal.
			p.BuyerOK, p.BuyerKO = str(in, "responseURLs", "buyerOK"), str(in, "responseURLs", "buyerKO")
			if p.BuyerOK == "" || p.BuyerKO == "" {
				return refuse(http.StatusBadRequest, "1108", "Missing mandatory parameter responseURLs")
			}
			if fault.Kind == Decline {
				return out("KO", fault.Code, "declined by the test double")
			}
			p.Result = "WAITING"
			return ok(map[string]any{"transactionType": "submit", "transactionResult": "", "transactionErrorCode": "",
				"shopTransactionID": p.ShopTransactionID, "paymentID": p.PaymentID, "paymentMethod": kind,
				"userRedirect": map[string]any{"href": d.URL + PayPalPath + "?b=" + p.PaymentToken}})
		}
		p.Token = tok
		switch {
		case fault.Kind == Decline:
			return out("KO", fault.Code, "declined by the test double")
		case !d.paypal[tok]:
			return out("KO", "1165", "Token not found")
		}
		return out("OK", "", "")
	case "CREDITCARD":
	default:
		return refuse(http.StatusBadRequest, "1403", "Wrong paymentType")
	}
	tok := str(in, "paymentTypeDetails", "creditcard", "token")
	number, known := d.tokens[tok]
	p.Token = tok
	switch {
	case tok == "":
		return refuse(http.StatusBadRequest, "1461", "Creditcard data missing")
	case !known:
		return out("KO", "1165", "Token not found")
	case fault.Kind == Decline:
		return out("KO", fault.Code, "declined by the test double")
	case number == CardNeverAnswers:
		p.Result = "OK"
		return 0, envelope{}
	case number == CardThreeDS && p.Type != "03N":
		p.BuyerOK, p.BuyerKO = str(in, "responseURLs", "buyerOK"), str(in, "responseURLs", "buyerKO")
		// Without a page to come back to, the payer never returns: a lookup reads the
		// payment as declined 8006 (the double's choice). With one, it waits.
		p.Result, p.ErrorCode = "KO", "8006"
		if p.BuyerOK != "" {
			p.Result, p.ErrorCode = "WAITING", ""
		}
		return ok(map[string]any{"transactionType": "submit", "transactionResult": "", "transactionErrorCode": "8006",
			"transactionErrorDescription": "Verify By Visa", "shopTransactionID": p.ShopTransactionID, "paymentID": p.PaymentID,
			"userRedirect": map[string]any{"href": d.URL + "/pagam/pagam3d.aspx?a=" + d.shop.ShopLogin + "&b=" + p.PaymentToken}})
	case number == CardRecurringOnly && p.Type == "03N":
		return out("KO", "57", "Blocked card")
	}
	if code := cardCodes[number]; code != "" {
		return out("KO", code, "declined")
	}
	return out("OK", "", "")
}

// find is the payment a detail or refund names: by paymentID, or the
// shopTransactionID's submitted payment (else its latest).
func (d *Double) find(in map[string]any) *Payment {
	var found *Payment
	for _, p := range d.payments {
		if (str(in, "paymentID") != "" && p.PaymentID == str(in, "paymentID")) ||
			(str(in, "shopTransactionID") != "" && p.ShopTransactionID == str(in, "shopTransactionID")) {
			if found == nil || found.Result == "" {
				found = p
			}
		}
	}
	return found
}

func (d *Double) detail(in map[string]any) (int, envelope) {
	if str(in, "shopTransactionID") == "" && str(in, "paymentID") == "" && str(in, "bankTransactionID") == "" {
		return refuse(http.StatusBadRequest, "1108", "Missing mandatory parameter")
	}
	p := d.find(in)
	if p == nil {
		return refuse(http.StatusBadRequest, "2011", "transaction not found")
	}
	result, state := "UNSUBMITTED", ""
	events := []map[string]any{}
	switch p.Result {
	case "WAITING":
		result = "WAITING"
	case "OK":
		result, state = "OK", "AUT"
		events = append(events, map[string]any{"event": map[string]any{"eventtype": "AUT", "eventamount": p.Amount}})
		if p.Refunded > 0 {
			state = "STO"
		}
		if p.Canceled {
			result, state = "KO", "CAN"
		}
	case "KO":
		result = "KO"
	}
	return ok(map[string]any{"transactionType": "detail", "transactionResult": result, "transactionState": state,
		"shopTransactionID": p.ShopTransactionID, "paymentID": p.PaymentID, "currency": p.Currency, "events": events,
		"transactionErrorCode": p.ErrorCode, "token": p.Token})
}

func (d *Double) refund(in map[string]any) (int, envelope) {
	p := d.find(in)
	if p == nil || p.Result != "OK" {
		return refuse(http.StatusBadRequest, "2011", "transaction not found")
	}
	if str(in, "currency") != p.Currency {
		return refuse(http.StatusBadRequest, "4802", "Currency or Amount don't match the original transaction")
	}
	c, _ := billing.LookupCurrency(p.Currency)
	want, ok1 := minorUnits(str(in, "amount"), c.Exponent)
	paid, _ := minorUnits(p.Amount, c.Exponent)
	if !ok1 || want <= 0 {
		return refuse(http.StatusBadRequest, "1113", "Not numeric amount")
	}
	res := map[string]any{"transactionType": "refund", "shopTransactionID": p.ShopTransactionID, "paymentID": p.PaymentID}
	if p.Refunded+want > paid {
		res["transactionResult"], res["transactionErrorCode"] = "KO", "8015"
		return ok(res)
	}
	p.Refunded += want
	res["transactionResult"] = "OK"
	return ok(res)
}

func minorUnits(s string, exp int) (int64, bool) {
	if !amountRule.MatchString(s) {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > exp {
		return 0, false
	}
	n, err := strconv.ParseInt(whole+frac+strings.Repeat("0", exp-len(frac)), 10, 64)
	return n, err == nil
}

// PayPalPath stands for PayPal's approval page, where a first PayPal payment's submit
// sends the payer.
const PayPalPath = "/paypal/approve"

// threeDS is the issuer's page behind a submit's 8006 redirect (pagam3d.aspx?b=the
// paymentToken), and PayPal's approval page (PayPalPath?b=…) behind a first PayPal
// payment: ?answer=approve pays the payment (for PayPal it creates the billing
// agreement, which payment/detail then names in token), anything else declines it
// (8027), and the payer goes to the submit's buyerOK or buyerKO URL, with Axerve's a
// and b appended, and for PayPal the agreement as methodToken (the reference does not
// say what else it appends; the engine trusts none of it and reads payment/detail).
func (d *Double) threeDS(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	var p *Payment
	for _, cand := range d.payments {
		if cand.PaymentToken == r.URL.Query().Get("b") && cand.Result == "WAITING" {
			p = cand
		}
	}
	if p == nil {
		d.mu.Unlock()
		http.Error(w, "no payment waiting for 3-D Secure", http.StatusNotFound)
		return
	}
	answer := r.URL.Query().Get("answer")
	if answer == "" {
		d.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Axerve test page</title><a id="approve" href="?b=`+p.PaymentToken+
			`&answer=approve">Approve</a> <a id="deny" href="?b=`+p.PaymentToken+`&answer=deny">Deny</a>`)
		return
	}
	if (r.URL.Path == PayPalPath) != (p.Method == "PAYPAL") {
		d.mu.Unlock()
		http.Error(w, "not this payment's page", http.StatusNotFound)
		return
	}
	back, extra := p.BuyerOK, ""
	switch {
	case answer == "approve" && p.Method == "PAYPAL":
		d.seq++
		p.Result, p.Token = "OK", fmt.Sprintf("B-7PY%012dA", d.seq)
		d.paypal[p.Token] = true
		extra = "&methodToken=" + p.Token
	case answer == "approve":
		p.Result = "OK"
	default:
		p.Result, p.ErrorCode, back = "KO", "8027", p.BuyerKO
	}
	d.mu.Unlock()
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"a="+d.shop.ShopLogin+"&b="+p.PaymentToken+extra, http.StatusFound)
}

// Package stripetest holds a test double of Stripe's API for the flows stripe-mock
// cannot play: 3-D Secure redirects. Tests of the adapter and of the hosted page use it;
// stripe-mock still checks request shapes against Stripe's specification.
package stripetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// AuthenticationRequiredCard is the card number the fake's PaymentMethods map to
// pm_card_authenticationRequired (Stripe's test card that always asks for 3-D Secure);
// every other number is frictionless.
const AuthenticationRequiredCard = "4000002760003184"

// DeclinedCard is the card number the fake maps to pm_card_chargeDeclined: creating an
// intent with it answers 402 card_declined, as Stripe's test card does.
const DeclinedCard = "4000000000000002"

// stored is an idempotent answer: what a key was first used with and answered.
type stored struct {
	params string
	status int
	body   any
}

// Fake is a test double of the part of Stripe's API that 3-D Secure redirects
// use, which stripe-mock cannot play (its fixtures never ask for an action). It follows
// Stripe's documented contract: a PaymentIntent or SetupIntent created with
// confirm=true and a return_url answers requires_action with
// next_action.redirect_to_url for a card that needs authentication
// (pm_card_authenticationRequired, Stripe's test card name); its page (/acs/{id})
// completes or fails the authentication and sends the customer to return_url with the
// intent's id, client secret and redirect_status; the same Idempotency-Key returns the
// same intent; GET returns the intent as it now stands. Request shapes are checked
// against stripe-mock separately (TestAuthenticationRequestsAgainstStripeMock).
type Fake struct {
	// URL is the API's base URL, for stripe.Config.BaseURL.
	URL     string
	srv     *httptest.Server
	mu      sync.Mutex
	intents map[string]map[string]any
	byKey   map[string]stored
	creates map[string]int // per object type
	order   []string       // intent ids, oldest first
	lose    int            // answers still to lose
	// methods are the payment methods saved at the fake before (AddPaymentMethod), by
	// id, with the customer each is attached to.
	methods   map[string]string
	last4     map[string]string
	listCalls int
}

// ListCalls counts the PaymentIntent list pages served.
func (f *Fake) ListCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listCalls
}

// AddPaymentMethod stores a Visa card payment method ending in last4, as one a merchant
// saved at Stripe before it used the engine; customer is the Stripe customer it is
// attached to ("" for none).
func (f *Fake) AddPaymentMethod(id, customer, last4 string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.methods[id] = customer
	f.last4[id] = last4
}

// AttachedTo returns the customer a payment method is attached to.
func (f *Fake) AttachedTo(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.methods[id]
}

// LoseAnswers makes the next n intent creations happen but withholds their answers
// until the caller gives up, as a timeout after Stripe committed the charge does.
// (Closing the connection instead would not lose the answer: Go's HTTP transport
// resends a request that carries an Idempotency-Key, and the key replays.)
func (f *Fake) LoseAnswers(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = n
}

// ForgetKeys drops every idempotency key, as Stripe does about 24 hours after a key's
// first use: the same key then creates a new intent.
func (f *Fake) ForgetKeys() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byKey = map[string]stored{}
}

// New starts the fake; it stops with the test.
func New(t testing.TB) *Fake {
	f := &Fake{intents: map[string]map[string]any{}, byKey: map[string]stored{}, creates: map[string]int{},
		methods: map[string]string{}, last4: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(raw))
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "customers":
		f.creates["customers"]++
		writeJSON(map[string]any{"id": fmt.Sprintf("cus_fake%d", f.creates["customers"]), "object": "customer"})
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "payment_methods":
		// The card's number picks the test PaymentMethod, as Stripe's test tokens do;
		// nothing of it is kept.
		number := form.Get("card[number]")
		id := "pm_card_visa"
		switch number {
		case AuthenticationRequiredCard:
			id = "pm_card_authenticationRequired"
		case DeclinedCard:
			id = "pm_card_chargeDeclined"
		}
		writeJSON(map[string]any{"id": id, "object": "payment_method", "type": "card", "card": map[string]any{
			"brand": "visa", "last4": number[max(0, len(number)-4):], "exp_month": 12, "exp_year": 2034, "fingerprint": "fp_" + id}})
	case r.Method == http.MethodGet && len(parts) == 3 && parts[1] == "payment_methods":
		customer, ok := f.methods[parts[2]]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method","message":"No such PaymentMethod: '%s'"}}`, parts[2])
			return
		}
		pm := map[string]any{"id": parts[2], "object": "payment_method", "type": "card", "customer": nil, "card": map[string]any{
			"brand": "visa", "last4": f.last4[parts[2]], "exp_month": 11, "exp_year": 2033, "fingerprint": "fp_" + parts[2]}}
		if customer != "" {
			pm["customer"] = customer
		}
		writeJSON(pm)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "payment_methods" && parts[3] == "attach":
		if _, ok := f.methods[parts[2]]; ok {
			f.methods[parts[2]] = form.Get("customer")
		}
		writeJSON(map[string]any{"id": parts[2], "object": "payment_method", "type": "card", "customer": form.Get("customer")})
	case r.Method == http.MethodPost && len(parts) == 2 && (parts[1] == "payment_intents" || parts[1] == "setup_intents"):
		// Stripe keeps a key's first answer and refuses the key with other parameters.
		key := parts[1] + "/" + r.Header.Get("Idempotency-Key")
		params := form.Encode()
		if prev, ok := f.byKey[key]; ok && r.Header.Get("Idempotency-Key") != "" {
			if prev.params != params {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(prev.status)
			_ = json.NewEncoder(w).Encode(prev.body)
			return
		}
		if form.Get("payment_method") == "pm_card_chargeDeclined" {
			// Stripe's own error body (its codes, not the engine's). As at Stripe, the
			// declined intent exists, awaiting another payment method.
			body := json.RawMessage(`{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}`)
			f.byKey[key] = stored{params, http.StatusPaymentRequired, body}
			id := fmt.Sprintf("pi_%d", len(f.intents)+1)
			var amount int64
			fmt.Sscan(form.Get("amount"), &amount)
			f.intents[id] = map[string]any{"id": id, "object": "payment_intent", "created": time.Now().Unix(),
				"customer": form.Get("customer"), "metadata": metadataOf(form), "amount": amount, "currency": form.Get("currency"),
				"status": "requires_payment_method", "last_payment_error": lastError(body)}
			f.order = append(f.order, id)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusPaymentRequired)
			_ = json.NewEncoder(w).Encode(body)
			return
		}
		f.creates[parts[1]]++
		prefix, object := "pi_", "payment_intent"
		if parts[1] == "setup_intents" {
			prefix, object = "seti_", "setup_intent"
		}
		id := fmt.Sprintf("%s%d", prefix, len(f.intents)+1)
		meta := metadataOf(form)
		in := map[string]any{"id": id, "object": object, "client_secret": id + "_secret_abc", "created": time.Now().Unix(),
			"customer": form.Get("customer"), "off_session": form.Get("off_session") == "true",
			"metadata": meta, "payment_method": form.Get("payment_method"), "return_url": form.Get("return_url"),
			"status": "succeeded"}
		if object == "payment_intent" {
			var amount int64
			fmt.Sscan(form.Get("amount"), &amount)
			in["amount"], in["currency"] = amount, form.Get("currency")
			in["latest_charge"] = map[string]any{"id": "ch_" + id, "object": "charge",
				"payment_method_details": map[string]any{"type": "card", "card": map[string]any{"network_transaction_id": "nti_" + id}}}
		}
		manual := form.Get("capture_method") == "manual"
		in["capture_method"] = form.Get("capture_method")
		if manual {
			in["status"] = "requires_capture" // authorised, not captured
			delete(in, "latest_charge")
		}
		if form.Get("payment_method") == "pm_card_authenticationRequired" && form.Get("return_url") != "" {
			in["status"] = "requires_action"
			delete(in, "latest_charge")
			in["next_action"] = map[string]any{"type": "redirect_to_url",
				"redirect_to_url": map[string]any{"url": f.srv.URL + "/acs/" + id, "return_url": form.Get("return_url")}}
		}
		f.intents[id], f.byKey[key] = in, stored{params, http.StatusOK, in}
		f.order = append(f.order, id)
		if f.lose > 0 {
			f.lose--
			f.mu.Unlock()
			<-r.Context().Done()
			f.mu.Lock()
			return
		}
		writeJSON(in)
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "payment_intents" && (parts[3] == "capture" || parts[3] == "cancel"):
		in, ok := f.intents[parts[2]]
		switch {
		case !ok:
			http.NotFound(w, r)
			return
		case in["status"] != "requires_capture" && !(parts[3] == "cancel" && in["status"] == "requires_action"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"This PaymentIntent's status is %s."}}`, in["status"])
			return
		case parts[3] == "capture":
			in["status"] = "succeeded"
			in["latest_charge"] = map[string]any{"id": "ch_" + parts[2], "object": "charge",
				"payment_method_details": map[string]any{"type": "card", "card": map[string]any{"network_transaction_id": "nti_" + parts[2]}}}
		default:
			in["status"] = "canceled"
			delete(in, "next_action")
		}
		writeJSON(in)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "payment_intents":
		// Stripe's list: newest first, filtered by customer and created[gte], in pages
		// of limit (10 by default) after starting_after.
		q := r.URL.Query()
		var since int64
		fmt.Sscan(q.Get("created[gte]"), &since)
		limit := 10
		fmt.Sscan(q.Get("limit"), &limit)
		data := []any{}
		started := q.Get("starting_after") == ""
		hasMore := false
		for i := len(f.order) - 1; i >= 0; i-- {
			in := f.intents[f.order[i]]
			if in["object"] != "payment_intent" || in["created"].(int64) < since ||
				(q.Get("customer") != "" && in["customer"] != q.Get("customer")) {
				continue
			}
			if !started {
				started = in["id"] == q.Get("starting_after")
				continue
			}
			if len(data) == limit {
				hasMore = true
				break
			}
			data = append(data, in)
		}
		f.listCalls++
		writeJSON(map[string]any{"object": "list", "url": "/v1/payment_intents", "has_more": hasMore, "data": data})
	case r.Method == http.MethodGet && len(parts) == 3 && (parts[1] == "payment_intents" || parts[1] == "setup_intents"):
		in, ok := f.intents[parts[2]]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such intent: '%s'"}}`, parts[2])
			return
		}
		writeJSON(in)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "acs":
		in, ok := f.intents[parts[1]]
		id := parts[1]
		if !ok || in["status"] != "requires_action" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("answer") == "" {
			// Stripe's authentication page: the customer picks.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><h1>Stripe test authentication</h1><a id="approve" href="?answer=approve">Complete</a> <a id="deny" href="?answer=fail">Fail</a>`)
			return
		}
		status := "succeeded"
		if r.URL.Query().Get("answer") == "approve" {
			in["status"] = "succeeded"
			if in["capture_method"] == "manual" {
				in["status"] = "requires_capture"
			} else if in["object"] == "payment_intent" {
				in["latest_charge"] = map[string]any{"id": "ch_" + id, "object": "charge",
					"payment_method_details": map[string]any{"type": "card", "card": map[string]any{"network_transaction_id": "nti_" + id}}}
			}
		} else {
			status = "failed"
			in["status"] = "requires_payment_method"
			errKey := "last_payment_error"
			if in["object"] == "setup_intent" {
				errKey = "last_setup_error"
			}
			in[errKey] = map[string]any{"type": "invalid_request_error", "code": "payment_intent_authentication_failure"}
		}
		delete(in, "next_action")
		param := in["object"].(string)
		back, _ := url.Parse(in["return_url"].(string))
		q := back.Query()
		q.Set(param, id)
		q.Set(param+"_client_secret", in["client_secret"].(string))
		q.Set("redirect_status", status)
		back.RawQuery = q.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// Status returns an intent's status as the fake holds it.
func (f *Fake) Status(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, _ := f.intents[id]["status"].(string)
	return s
}

// Created counts the objects of kind (payment_intents, setup_intents) created.
func (f *Fake) Created(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates[kind]
}

// metadataOf reads Stripe's metadata[key]=value form fields.
func metadataOf(form url.Values) map[string]string {
	meta := map[string]string{}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "metadata["); ok {
			meta[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	return meta
}

// CreateIntentWithoutKey stores a succeeded PaymentIntent as an adapter that did not
// yet record its idempotency key in metadata made it, and returns its id.
func (f *Fake) CreateIntentWithoutKey(customer string, amount int64, currency string, metadata map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("pi_%d", len(f.intents)+1)
	f.intents[id] = map[string]any{"id": id, "object": "payment_intent", "created": time.Now().Unix(),
		"customer": customer, "metadata": metadata, "amount": amount, "currency": currency, "status": "succeeded",
		"latest_charge": map[string]any{"id": "ch_" + id, "object": "charge",
			"payment_method_details": map[string]any{"type": "card", "card": map[string]any{"network_transaction_id": "nti_" + id}}}}
	f.order = append(f.order, id)
	f.creates["payment_intents"]++
	return id
}

// IntentsOf returns the metadata and off_session flag of the customer's PaymentIntents,
// oldest first.
func (f *Fake) IntentsOf(customer string) []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]string
	for _, id := range f.order {
		in := f.intents[id]
		if in["customer"] != customer {
			continue
		}
		m := map[string]string{"id": id, "off_session": fmt.Sprint(in["off_session"])}
		if meta, ok := in["metadata"].(map[string]string); ok {
			for k, v := range meta {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// lastError is the error object of a Stripe error body, as an intent's last_payment_error.
func lastError(body json.RawMessage) map[string]any {
	var e struct {
		Error map[string]any `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

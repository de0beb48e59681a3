package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/billing"
)

type customerBody struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	Email          string            `json:"email"`
	FirstName      *string           `json:"first_name"`
	LastName       *string           `json:"last_name"`
	BillingAddress *addressBody      `json:"billing_address"`
	Metadata       map[string]string `json:"metadata"`
	Livemode       bool              `json:"livemode"`
	CreatedAt      string            `json:"created_at"`
}

type addressBody struct {
	Line1, Line2, City, State string
	PostalCode                string `json:"postal_code"`
	Country                   string
}

type listBody[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func (f fixture) createCustomer(t testing.TB, key, email string) customerBody {
	t.Helper()
	var c customerBody
	f.ok(t, http.MethodPost, "/v1/customers", key, fmt.Sprintf(`{"email":%q}`, email), &c)
	return c
}

func TestCustomerCRUD(t *testing.T) {
	f := newFixture(t, nil)
	var c customerBody
	rec, _ := f.do(t, http.MethodPost, "/v1/customers", f.testKey, `{
		"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
		"billing_address": {"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"},
		"metadata": {"crm_id": "42"}}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", rec.Code, rec.Body)
	}
	mustJSON(t, rec.Body.Bytes(), &c)
	if !strings.HasPrefix(c.ID, "cus_") || c.Object != "customer" || c.Email != "ada@example.com" || c.Livemode ||
		deref(c.FirstName) != "Ada" || c.BillingAddress == nil || c.BillingAddress.Country != "GB" ||
		c.BillingAddress.PostalCode != "SW1Y 4JH" || c.Metadata["crm_id"] != "42" || c.CreatedAt == "" {
		t.Fatalf("created %+v", c)
	}

	var got customerBody
	f.ok(t, http.MethodGet, "/v1/customers/"+c.ID, f.testKey, "", &got)
	if got.ID != c.ID || got.BillingAddress == nil || got.BillingAddress.City != "London" {
		t.Errorf("get = %+v", got)
	}

	var up customerBody
	f.ok(t, http.MethodPatch, "/v1/customers/"+c.ID, f.testKey,
		`{"first_name": null, "billing_address": {"country": "FR", "city": "Paris"}, "metadata": {"crm_id": "", "tier": "gold"}}`, &up)
	if up.FirstName != nil || deref(up.LastName) != "Lovelace" || up.BillingAddress == nil ||
		up.BillingAddress.Country != "FR" || up.BillingAddress.Line1 != "" || len(up.Metadata) != 1 || up.Metadata["tier"] != "gold" {
		t.Errorf("patched = %+v (address %+v)", up, up.BillingAddress)
	}
	up = customerBody{}
	f.ok(t, http.MethodPatch, "/v1/customers/"+c.ID, f.testKey, `{"billing_address": null, "email": "ada@lovelace.org"}`, &up)
	if up.BillingAddress != nil || up.Email != "ada@lovelace.org" {
		t.Errorf("after removing the address: %+v", up)
	}

	var del struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}
	f.ok(t, http.MethodDelete, "/v1/customers/"+c.ID, f.testKey, "", &del)
	if del.ID != c.ID || !del.Deleted {
		t.Errorf("delete = %+v", del)
	}
	if rec, e := f.do(t, http.MethodGet, "/v1/customers/"+c.ID, f.testKey, ""); rec.Code != http.StatusNotFound || e.Error.Code != "resource_missing" {
		t.Errorf("get after delete = %d %s", rec.Code, e.Error.Code)
	}
}

func TestListCustomers(t *testing.T) {
	f := newFixture(t, nil)
	var ids []string
	for i := range 5 {
		ids = append(ids, f.createCustomer(t, f.testKey, fmt.Sprintf("user%d@example.com", i%2)).ID)
	}
	f.createCustomer(t, f.otherKey, "user0@example.com")
	f.createCustomer(t, f.liveKey, "user0@example.com")

	var page listBody[customerBody]
	f.ok(t, http.MethodGet, "/v1/customers?limit=2", f.testKey, "", &page)
	if page.Object != "list" || len(page.Data) != 2 || !page.HasMore || page.Data[0].ID != ids[4] || page.Data[1].ID != ids[3] {
		t.Fatalf("first page = %+v", page)
	}
	f.ok(t, http.MethodGet, "/v1/customers?limit=2&starting_after="+page.Data[1].ID, f.testKey, "", &page)
	if len(page.Data) != 2 || page.Data[0].ID != ids[2] || !page.HasMore {
		t.Fatalf("second page = %+v", page)
	}
	f.ok(t, http.MethodGet, "/v1/customers?email=USER0@example.com", f.testKey, "", &page)
	if len(page.Data) != 3 || page.HasMore {
		t.Errorf("email filter: %d customers, want 3", len(page.Data))
	}
	for _, c := range page.Data {
		if c.Email != "user0@example.com" {
			t.Errorf("email filter returned %s", c.Email)
		}
	}
	for _, bad := range []struct{ query, param, code string }{
		{"limit=0", "limit", "invalid_value"},
		{"limit=101", "limit", "invalid_value"},
		{"limit=ten", "limit", "invalid_type"},
		{"starting_after=cus_nope", "starting_after", "resource_missing"},
	} {
		rec, e := f.do(t, http.MethodGet, "/v1/customers?"+bad.query, f.testKey, "")
		if rec.Code != http.StatusBadRequest || e.Error.Param != bad.param || e.Error.Code != bad.code {
			t.Errorf("?%s = %d %s %s, want 400 %s %s", bad.query, rec.Code, e.Error.Code, e.Error.Param, bad.code, bad.param)
		}
	}
}

// Every malformed request is a 4xx naming the field, never a 500.
func TestCustomerValidation(t *testing.T) {
	f := newFixture(t, nil)
	c := f.createCustomer(t, f.testKey, "a@example.com")
	long := strings.Repeat("x", 101)
	cases := []struct {
		name, method, body string
		status             int
		code, param        string
	}{
		{"malformed JSON", "POST", `{"email": "a@example.com"`, 400, "invalid_json", ""},
		{"not an object", "POST", `["a@example.com"]`, 400, "invalid_type", ""},
		{"null body", "POST", `null`, 400, "invalid_type", ""},
		{"empty body", "POST", ``, 400, "parameter_missing", ""},
		{"missing email", "POST", `{"first_name": "Ada"}`, 400, "parameter_missing", "email"},
		{"unknown field", "POST", `{"email": "a@example.com", "phone": "123"}`, 400, "parameter_unknown", "phone"},
		{"unknown nested field", "POST", `{"email": "a@example.com", "billing_address": {"country": "GB", "zip": "1"}}`, 400, "parameter_unknown", "billing_address.zip"},
		{"wrong type", "POST", `{"email": 42}`, 400, "invalid_type", "email"},
		{"wrong nested type", "POST", `{"email": "a@example.com", "billing_address": {"country": ["GB"]}}`, 400, "invalid_type", "billing_address.country"},
		{"bad email", "POST", `{"email": "Ada <ada@example.com>"}`, 400, "invalid_email", "email"},
		{"bad email 2", "POST", `{"email": "ada@"}`, 400, "invalid_email", "email"},
		{"unknown country", "POST", `{"email": "a@example.com", "billing_address": {"country": "XX"}}`, 400, "invalid_country", "billing_address.country"},
		{"lower-case country", "POST", `{"email": "a@example.com", "billing_address": {"country": "gb"}}`, 400, "invalid_country", "billing_address.country"},
		{"three-letter country", "POST", `{"email": "a@example.com", "billing_address": {"country": "GBR"}}`, 400, "invalid_country", "billing_address.country"},
		{"address without country", "POST", `{"email": "a@example.com", "billing_address": {"city": "London"}}`, 400, "parameter_missing", "billing_address.country"},
		{"name too long", "POST", `{"email": "a@example.com", "first_name": "` + long + `"}`, 400, "invalid_value", "first_name"},
		{"metadata value type", "POST", `{"email": "a@example.com", "metadata": {"k": 1}}`, 400, "invalid_type", "metadata.k"},
		{"metadata key too long", "POST", `{"email": "a@example.com", "metadata": {"` + strings.Repeat("k", 41) + `": "v"}}`, 400, "invalid_metadata", "metadata"},
		{"too many metadata keys", "POST", `{"email": "a@example.com", "metadata": {` + manyKeys(51) + `}}`, 400, "invalid_value", "metadata"},
		{"patch null email", "PATCH", `{"email": null}`, 400, "invalid_type", "email"},
		{"patch nested wrong type", "PATCH", `{"billing_address": {"country": 5}}`, 400, "invalid_type", "billing_address.country"},
		{"patch unknown field", "PATCH", `{"id": "cus_other"}`, 400, "parameter_unknown", "id"},
		{"patch bad country", "PATCH", `{"billing_address": {"country": "ZZ"}}`, 400, "invalid_country", "billing_address.country"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/customers"
			if tc.method == "PATCH" {
				path += "/" + c.ID
			}
			rec, e := f.do(t, tc.method, path, f.testKey, tc.body)
			if rec.Code != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.param {
				t.Fatalf("%d %s param %q, want %d %s param %q (%s)", rec.Code, e.Error.Code, e.Error.Param, tc.status, tc.code, tc.param, e.Error.Message)
			}
			if e.Error.Type != "invalid_request_error" {
				t.Errorf("type %s", e.Error.Type)
			}
		})
	}

	// The body's media type and size.
	rec, e := f.serve(t, request{method: "POST", path: "/v1/customers", key: f.testKey, body: `email=a@example.com`,
		headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if rec.Code != 400 || e.Error.Code != "unsupported_media_type" || e.Error.Param != "Content-Type" {
		t.Errorf("form body = %d %s %s", rec.Code, e.Error.Code, e.Error.Param)
	}
	// Over 1 MiB, with and without a Content-Length.
	big := `{"email": "a@example.com", "first_name": "` + strings.Repeat("a", 1<<20) + `"}`
	rec, e = f.do(t, "POST", "/v1/customers", f.testKey, big)
	if rec.Code != http.StatusRequestEntityTooLarge || e.Error.Code != "body_too_large" {
		t.Errorf("1 MiB body = %d %s", rec.Code, e.Error.Code)
	}
	req := newRequest(t, "POST", "/v1/customers", f.testKey, struct{ *strings.Reader }{strings.NewReader(big)})
	rec = serveRaw(f, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "body_too_large") {
		t.Errorf("chunked 1 MiB body = %d %s", rec.Code, rec.Body)
	}
}

func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d": "v"`, i)
	}
	return strings.Join(parts, ",")
}

// fakePlans is a PlanNotifier and PlanCounter that records what it was told.
type fakePlans struct {
	mu     sync.Mutex
	active map[string]int
	calls  []string
	fail   error
}

var (
	_ api.PlanNotifier = (*fakePlans)(nil)
	_ api.PlanCounter  = (*fakePlans)(nil)
)

func (p *fakePlans) record(what, merchantID, pmID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, what+" "+merchantID+" "+pmID)
	return p.fail
}

func (p *fakePlans) PaymentMethodBlocked(_ context.Context, m, pm string) error {
	return p.record("blocked", m, pm)
}

func (p *fakePlans) PaymentMethodUnblocked(_ context.Context, m, pm string) error {
	return p.record("unblocked", m, pm)
}

func (p *fakePlans) PaymentMethodDetached(_ context.Context, m, pm string) error {
	return p.record("detached", m, pm)
}

func (p *fakePlans) ActivePlans(_ context.Context, _, customerID string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active[customerID], p.fail
}

func (p *fakePlans) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

func TestDeleteCustomerWithActivePlansIsRefused(t *testing.T) {
	plans := &fakePlans{active: map[string]int{}}
	f := newFixtureWith(t, fixtureOptions{plans: plans, activePlans: plans})
	c := f.createCustomer(t, f.testKey, "a@example.com")
	pm := f.saveCard(t, f.testKey, c.ID, visa)
	plans.active[c.ID] = 2

	rec, e := f.do(t, http.MethodDelete, "/v1/customers/"+c.ID, f.testKey, "")
	if rec.Code != http.StatusConflict || e.Error.Code != billing.CodeCustomerHasActivePlans {
		t.Fatalf("delete with 2 active plans = %d %s", rec.Code, e.Error.Code)
	}
	f.ok(t, http.MethodGet, "/v1/customers/"+c.ID, f.testKey, "", nil)

	plans.active[c.ID] = 0 // the plans were canceled
	f.ok(t, http.MethodDelete, "/v1/customers/"+c.ID, f.testKey, "", nil)
	var got paymentMethodBody
	f.ok(t, http.MethodGet, "/v1/payment-methods/"+pm.ID, f.testKey, "", &got)
	if got.Status != "detached" || got.Card != nil {
		t.Errorf("card of the deleted customer: %+v", got)
	}
	if calls := plans.Calls(); len(calls) != 1 || calls[0] != "detached "+f.merchantID+" "+pm.ID {
		t.Errorf("plans were told %v", calls)
	}

	// A failing counter is a 5xx, never a silent delete.
	c2 := f.createCustomer(t, f.testKey, "b@example.com")
	plans.fail = errors.New("temporal unreachable")
	if rec, _ := f.do(t, http.MethodDelete, "/v1/customers/"+c2.ID, f.testKey, ""); rec.Code != http.StatusInternalServerError {
		t.Errorf("delete while plans cannot be counted = %d", rec.Code)
	}
	plans.fail = nil
	f.ok(t, http.MethodGet, "/v1/customers/"+c2.ID, f.testKey, "", nil)
}

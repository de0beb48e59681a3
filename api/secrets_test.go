package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The card number and CVC never appear in logs, error messages, responses or the
// database: every request that carries them, good or bad, is made with debug logging
// captured, and then the logs, every response and the SQLite files are searched.
func TestCardNumberAndCVCNeverLeak(t *testing.T) {
	f := newFixture(t, nil)
	const pan, otherPAN, cvc = "4242424242424242", "5555555555554444", "987"
	c := f.createCustomer(t, f.testKey, "ada@example.com")
	path := "/v1/customers/" + c.ID + "/payment-methods"

	bodies := []string{
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": %q}}`, pan, nextYear, cvc),
		fmt.Sprintf(`{"card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": %d, "cvc": %q}}`, nextYear, cvc),
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": %q}}`, otherPAN, nextYear, cvc),
		// Rejected in every layer: the spec, the card check, the provider policy.
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": 2020, "cvc": %q}}`, pan, cvc),
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 13, "exp_year": %d, "cvc": %q}}`, pan, nextYear, cvc),
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": "98"}}`, pan, nextYear),
		fmt.Sprintf(`{"card": {"number": "%s0000000", "exp_month": 12, "exp_year": %d, "cvc": %q}}`, pan, nextYear, cvc),
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": %q, "pin": %q}}`, pan, nextYear, cvc, cvc),
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": %q}, "provider": "nope"}`, pan, nextYear, cvc),
		fmt.Sprintf(`{"card": {"number": %s, "exp_month": 12, "exp_year": %d, "cvc": %q}}`, pan, nextYear, cvc),
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": %s}}`, pan, nextYear, cvc),
		fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": %q`, pan, nextYear, cvc),
	}
	var responses bytes.Buffer
	for i, body := range bodies {
		for _, key := range []string{f.testKey, f.liveKey} {
			rec, _ := f.serve(t, request{method: http.MethodPost, path: path, key: key, body: body,
				headers: map[string]string{"Idempotency-Key": fmt.Sprintf("leak-%d", i)}})
			responses.Write(rec.Body.Bytes())
			for name, values := range rec.Header() {
				fmt.Fprintf(&responses, "%s: %s\n", name, values)
			}
		}
	}
	var list listBody[paymentMethodBody]
	f.ok(t, http.MethodGet, path, f.testKey, "", &list)
	if len(list.Data) != 3 {
		t.Fatalf("%d cards saved, want the 3 valid ones", len(list.Data))
	}
	for _, pm := range list.Data[:2] {
		f.ok(t, http.MethodPost, "/v1/payment-methods/"+pm.ID+"/block", f.testKey, "", nil)
	}
	f.ok(t, http.MethodPost, "/v1/payment-methods/"+list.Data[2].ID+"/detach", f.testKey, "", nil)

	secrets := []string{pan, otherPAN, "4242 4242 4242 4242", `"` + cvc + `"`, `"cvc":`}
	check := func(where string, haystack []byte) {
		t.Helper()
		for _, s := range secrets {
			if s == `"cvc":` && where == "responses" {
				continue // the words may name a field in an error; the values may not
			}
			if bytes.Contains(haystack, []byte(s)) {
				t.Errorf("%s contain %q", where, s)
			}
		}
	}
	if f.logs.String() == "" {
		t.Fatal("nothing was logged; the test would prove nothing")
	}
	check("logs", []byte(f.logs.String()))
	check("responses", responses.Bytes())

	files, _ := filepath.Glob(f.dbPath + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	var db []byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	if !bytes.Contains(db, []byte("ada@example.com")) {
		t.Fatal("the database files do not hold the customer; the search would prove nothing")
	}
	check("database files ("+strings.Join(files, ", ")+")", db)
}

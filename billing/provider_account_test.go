package billing_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/recurring/recurring/billing"
)

// TestCredentialsNeverPrintTheirValues: fmt, slog (text and JSON) and encoding/json
// show a provider account's credential field names only, also inside the keys the
// charge path reads.
func TestCredentialsNeverPrintTheirValues(t *testing.T) {
	c := billing.Credentials{"secret_key": "sk_live_TOPSECRET", "request_phrase": "PHRASE-SECRET"}
	keys := billing.ProviderAccountKeys{ID: "pa_1", Provider: "stripe", Credentials: c}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("x", "creds", c, "keys", keys)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("x", "creds", c, "keys", keys)
	m1, _ := json.Marshal(c)
	m2, _ := json.Marshal(keys)
	out := fmt.Sprintf("%v %+v %#v %v %+v %s %s %s %s", c, c, c, keys, keys, text.String(), js.String(), m1, m2)
	for _, secret := range []string{"TOPSECRET", "PHRASE-SECRET"} {
		if strings.Contains(out, secret) {
			t.Fatalf("a credential value is printed: %s", out)
		}
	}
	if !strings.Contains(out, "secret_key") {
		t.Errorf("the field names are not shown: %s", out)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/recurring/recurring/internal/payloadcodec"
	"github.com/recurring/recurring/starter"
)

// TestDevPayloadsAreEncrypted: a plan whose reference and merchant_data carry a marker
// runs to completion on `recurring dev`; the marker appears 0 times in Temporal's
// database files (and is in the app store's, so the search would find it), the
// history's payloads are encrypted under dev's key, and dev's codec endpoint decodes
// them for its Web UI's origin (over loopback) and for no one else.
func TestDevPayloadsAreEncrypted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	const marker = "MARKER-9d2e-merchant-data"
	dataDir := t.TempDir()
	const key = "sk_test_e2ecodec0123456789abcdef"
	d := startDev(t, dataDir, freePorts(t), key)
	var cus, pm struct{ ID string }
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers", `{"email": "codec@example.com"}`, &cus)
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods",
		`{"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}}`, &pm)
	var p e2ePlan
	call(t, d.apiURL, key, http.MethodPost, "/v1/plans", fmt.Sprintf(`{"customer": %q, "payment_method": %q, "currency": "USD",
		"reference": "ref-%s", "merchant_data": {"note": %q},
		"schedule": {"frequency": "seconds", "frequency_duration": 1, "recurring_amount": 700, "installments": 2}}`,
		cus.ID, pm.ID, marker, marker), &p)
	waitCompleted(t, d.apiURL, key, p.ID, 2*time.Minute)

	count := func(glob string) int {
		files, _ := filepath.Glob(filepath.Join(dataDir, glob))
		if len(files) == 0 {
			t.Fatalf("no %s in the data dir", glob)
		}
		n := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n += bytes.Count(b, []byte(marker))
		}
		return n
	}
	if n := count("temporal.db*"); n != 0 {
		t.Errorf("the marker is %d times in Temporal's database", n)
	}
	if n := count("recurring.db*"); n == 0 {
		t.Error("the marker is not in the app store either: the search cannot tell")
	}

	// The history as stored: the start's input is encrypted under dev's key.
	raw, err := starter.Dial(context.Background(), starter.Config{HostPort: d.temporal, Namespace: devNamespace})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var input *commonpb.Payloads
	it := raw.GetWorkflowHistory(context.Background(), p.ID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			input = a.GetInput()
		}
	}
	if input == nil || len(input.GetPayloads()) == 0 {
		t.Fatal("no start input in the history")
	}
	if enc := string(input.GetPayloads()[0].GetMetadata()["encoding"]); enc != payloadcodec.Encoding {
		t.Fatalf("start input encoding %q, want %s", enc, payloadcodec.Encoding)
	}

	body, err := protojson.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	// The endpoint's path is in the banner: secret per run.
	var codecURL string
	for _, line := range strings.Split(d.stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Codec:"); ok {
			codecURL = strings.Fields(rest)[0]
		}
	}
	if !strings.HasPrefix(codecURL, d.apiURL+"/codec/") || len(codecURL) < len(d.apiURL)+len("/codec/")+32 {
		t.Fatalf("banner codec endpoint %q, want a secret path under %s/codec/", codecURL, d.apiURL)
	}
	decodeAt := func(url, origin string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", devNamespace)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var out commonpb.Payloads
		buf := new(bytes.Buffer)
		_, _ = buf.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, buf.String()
		}
		if err := protojson.Unmarshal(buf.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		var in map[string]any
		if err := converter.GetDefaultDataConverter().FromPayload(out.GetPayloads()[0], &in); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, fmt.Sprint(in)
	}
	decode := func(origin string) (int, string) { return decodeAt(codecURL+"/decode", origin) }
	if code, text := decode(d.uiURL); code != http.StatusOK || !strings.Contains(text, "ref-"+marker) {
		t.Errorf("decode for the Web UI = %d %.300s, want the plan input with its reference", code, text)
	}
	for _, origin := range []string{"", "http://127.0.0.1:1"} {
		if code, _ := decode(origin); code != http.StatusUnauthorized {
			t.Errorf("decode with origin %q = %d, want 401", origin, code)
		}
	}
	if code, _ := decodeAt(d.apiURL+"/codec/decode", d.uiURL); code == http.StatusOK {
		t.Error("the codec answers without its secret path")
	}
	d.stop(t)
}

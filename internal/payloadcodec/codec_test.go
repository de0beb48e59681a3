package payloadcodec_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/recurring/recurring/internal/payloadcodec"
	"github.com/recurring/recurring/internal/seal"
)

const marker = "MERCHANT-DATA-MARKER-7f3a"

func codec(t *testing.T, spec string) *payloadcodec.Codec {
	t.Helper()
	ring, err := seal.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := payloadcodec.New(ring)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	k1 = seal.Generate("k1")
	k2 = seal.Generate("k2")
)

// TestPayloadsAreEncryptedAndRotate: a payload leaves the codec with no byte of the
// merchant's data in it and its key id beside it; after a rotation (k2 active, k1
// kept) old payloads still decode and new ones go under k2; without k1 its payloads are
// a clear error naming it; plain payloads (histories from before the codec) pass as
// they are; a tampered one does not decode.
func TestPayloadsAreEncryptedAndRotate(t *testing.T) {
	old := codec(t, k1)
	dc := old.DataConverter()
	p, err := dc.ToPayload(map[string]string{"merchant_data": marker})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.GetData(), []byte(marker)) || string(p.GetMetadata()["encoding"]) != payloadcodec.Encoding ||
		string(p.GetMetadata()[payloadcodec.MetadataKeyID]) != "k1" {
		t.Fatalf("encoded payload %v", p)
	}
	for _, m := range p.GetMetadata() {
		if bytes.Contains(m, []byte("json")) {
			t.Error("the encoded payload's metadata tells its plain encoding")
		}
	}

	rotated := codec(t, k2+","+k1)
	var back map[string]string
	if err := rotated.DataConverter().FromPayload(p, &back); err != nil || back["merchant_data"] != marker {
		t.Fatalf("after rotation: %v, %v", back, err)
	}
	p2, _ := rotated.DataConverter().ToPayload("x")
	if string(p2.GetMetadata()[payloadcodec.MetadataKeyID]) != "k2" {
		t.Errorf("new payloads under %q, want k2", p2.GetMetadata()[payloadcodec.MetadataKeyID])
	}
	_, err = codec(t, k2).Decode([]*commonpb.Payload{p})
	if err == nil || !strings.Contains(err.Error(), `"k1"`) {
		t.Errorf("decode without k1: %v, want an error naming k1", err)
	}

	plain, _ := converter.GetDefaultDataConverter().ToPayload(map[string]string{"a": "b"})
	if out, err := old.Decode([]*commonpb.Payload{plain}); err != nil || out[0] != plain {
		t.Errorf("a plain payload: %v, %v; want it as it is", out, err)
	}

	tampered := &commonpb.Payload{Metadata: p.GetMetadata(), Data: append([]byte(nil), p.GetData()...)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := old.Decode([]*commonpb.Payload{tampered}); err == nil {
		t.Error("a tampered payload decoded")
	}
	if _, err := payloadcodec.New(nil); err == nil {
		t.Error("a codec without keys was built")
	}
}

// TestFailureMessagesAreEncrypted: a failure's message (a decline message can quote the
// merchant's data) goes into the encrypted attributes, not the clear message field.
func TestFailureMessagesAreEncrypted(t *testing.T) {
	c := codec(t, k1)
	f := c.FailureConverter().ErrorToFailure(temporal.NewApplicationError("declined for "+marker, "soft_decline"))
	if strings.Contains(f.GetMessage(), marker) || bytes.Contains(f.GetEncodedAttributes().GetData(), []byte(marker)) ||
		string(f.GetEncodedAttributes().GetMetadata()["encoding"]) != payloadcodec.Encoding {
		t.Fatalf("failure %v carries the marker in the clear", f)
	}
	err := c.FailureConverter().FailureToError(f)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !strings.Contains(appErr.Error(), marker) {
		t.Errorf("decoded failure %v, want the message back", err)
	}
}

func post(t *testing.T, h http.Handler, path, body string, header map[string]string, remote string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if body == "" {
		req = httptest.NewRequest(http.MethodOptions, path, nil)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestCodecEndpoint: Temporal's /encode and /decode contract behind a bearer token;
// CORS only for the configured UI origin; the dev UI on loopback without a token;
// unknown keys a clear 400.
func TestCodecEndpoint(t *testing.T) {
	c := codec(t, k1)
	enc, _ := c.DataConverter().ToPayload(marker)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc}})
	if err != nil {
		t.Fatal(err)
	}
	const ui = "https://temporal-ui.example"
	h := c.Handler(payloadcodec.HandlerOptions{Token: "codec-token-0123456789abcdef", UIOrigin: ui})
	bearer := map[string]string{"Authorization": "Bearer codec-token-0123456789abcdef", "Content-Type": "application/json"}

	if rec := post(t, h, "/codec/decode", string(body), nil, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", rec.Code)
	}
	if rec := post(t, h, "/codec/decode", string(body), map[string]string{"Authorization": "Bearer wrong"}, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", rec.Code)
	}
	rec := post(t, h, "/codec/decode", string(body), bearer, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("decode = %d %s", rec.Code, rec.Body)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &got); err != nil || got != marker {
		t.Errorf("decoded %q, %v", got, err)
	}
	// encode, then decode, through the endpoint.
	rec = post(t, h, "/codec/encode", rec.Body.String(), bearer, "")
	var reenc commonpb.Payloads
	if rec.Code != http.StatusOK || protojson.Unmarshal(rec.Body.Bytes(), &reenc) != nil ||
		string(reenc.Payloads[0].GetMetadata()["encoding"]) != payloadcodec.Encoding {
		t.Errorf("encode = %d %s", rec.Code, rec.Body)
	}

	// CORS: the UI's preflight, and no one else's.
	if rec := post(t, h, "/codec/decode", "", map[string]string{"Origin": ui}, ""); rec.Code != http.StatusNoContent ||
		rec.Header().Get("Access-Control-Allow-Origin") != ui || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "X-Namespace") {
		t.Errorf("UI preflight = %d %v", rec.Code, rec.Header())
	}
	if rec := post(t, h, "/codec/decode", "", map[string]string{"Origin": "https://evil.example"}, ""); rec.Code != http.StatusForbidden ||
		rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin's preflight = %d %v", rec.Code, rec.Header())
	}
	// The UI origin alone is no credential outside dev.
	if rec := post(t, h, "/codec/decode", string(body), map[string]string{"Origin": ui}, "127.0.0.1:5000"); rec.Code != http.StatusUnauthorized {
		t.Errorf("UI origin without a token = %d, want 401", rec.Code)
	}

	devUI := "http://127.0.0.1:8233"
	dev := c.Handler(payloadcodec.HandlerOptions{UIOrigin: devUI, TrustLoopbackUI: true})
	if rec := post(t, dev, "/codec/decode", string(body), map[string]string{"Origin": devUI}, "127.0.0.1:5000"); rec.Code != http.StatusOK ||
		rec.Header().Get("Access-Control-Allow-Origin") != devUI {
		t.Errorf("dev UI on loopback = %d", rec.Code)
	}
	for name, hdr := range map[string]struct{ origin, remote string }{
		"no origin":         {"", "127.0.0.1:5000"},
		"another origin":    {"http://127.0.0.1:9999", "127.0.0.1:5000"},
		"not over loopback": {devUI, "10.0.0.7:5000"},
	} {
		h := map[string]string{}
		if hdr.origin != "" {
			h["Origin"] = hdr.origin
		}
		if rec := post(t, dev, "/codec/decode", string(body), h, hdr.remote); rec.Code != http.StatusUnauthorized {
			t.Errorf("dev, %s: %d, want 401", name, rec.Code)
		}
	}

	// Through a proxy on loopback (a tunnel): not the local UI.
	if rec := post(t, dev, "/codec/decode", string(body), map[string]string{"Origin": devUI, "X-Forwarded-For": "203.0.113.9"}, "127.0.0.1:5000"); rec.Code != http.StatusUnauthorized {
		t.Errorf("dev UI through a proxy = %d, want 401", rec.Code)
	}

	// A payload under a key this codec lacks: 400 naming it.
	other := codec(t, seal.Generate("k9"))
	enc9, _ := other.DataConverter().ToPayload("x")
	body9, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc9}})
	if rec := post(t, h, "/codec/decode", string(body9), bearer, ""); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"k9"`) {
		t.Errorf("unknown key = %d %s, want 400 naming k9", rec.Code, rec.Body)
	}
	if rec := post(t, h, "/codec/decode", "{not json", bearer, ""); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed body = %d, want 400", rec.Code)
	}
}

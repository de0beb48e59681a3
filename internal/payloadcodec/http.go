package payloadcodec

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// HandlerOptions configure the codec endpoint (Temporal's remote codec contract:
// POST …/encode and …/decode with a JSON Payloads body), which lets the Web UI and the
// temporal CLI show decoded payloads to an operator.
type HandlerOptions struct {
	// Token is the bearer token a request must carry (CODEC_TOKEN); with none, only
	// the trusted UI below can use the endpoint.
	Token string
	// UIOrigin is the Web UI's origin (scheme://host[:port]): the only origin CORS
	// answers. Empty: no browser may call the endpoint.
	UIOrigin string
	// TrustLoopbackUI lets a request from UIOrigin over a loopback connection, with no
	// proxy header, through without a token: `recurring dev`, whose Web UI, API and
	// Temporal all listen on 127.0.0.1 for one local user, and which mounts the handler
	// under a secret path per run (a tunnel also arrives on loopback).
	TrustLoopbackUI bool
}

// maxBody bounds a codec request: a page of history events' payloads.
const maxBody = 8 << 20

// Handler returns the codec endpoint; mount it at a path ending in "/" (its requests
// are that path + "encode" or "decode").
func (c *Codec) Handler(o HandlerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		fromUI := o.UIOrigin != "" && origin == o.UIOrigin
		if fromUI {
			w.Header().Set("Access-Control-Allow-Origin", o.UIOrigin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			if !fromUI {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !o.authorized(r, fromUI) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="codec"`)
			http.Error(w, "codec endpoint: a bearer token (CODEC_TOKEN) is required", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "codec endpoint: POST …/encode or …/decode", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		inner.ServeHTTP(w, r)
	})
}

func (o HandlerOptions) authorized(r *http.Request, fromUI bool) bool {
	if o.Token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(got), []byte(o.Token)) == 1 {
			return true
		}
	}
	// A proxy in between (a tunnel, a port forward that says so) is not the local UI.
	forwarded := r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-Ip") != ""
	return o.TrustLoopbackUI && fromUI && !forwarded && loopback(r.RemoteAddr)
}

func loopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

package aps

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// SHA types as the merchant dashboard names them (Integration Settings → Security).
const (
	SHA256  = "SHA-256"
	SHA512  = "SHA-512"
	HMAC256 = "HMAC-256"
	HMAC512 = "HMAC-512"
)

// tokenizationUnsigned are the card fields the Merchant Page 2.0 TOKENIZATION form
// leaves out of its signature (the documentation's rule and worked example).
var tokenizationUnsigned = []string{"card_security_code", "card_number", "expiry_date", "card_holder_name", "remember_me"}

// Sign computes Amazon Payment Services' signature of params with phrase: every
// parameter but "signature" sorted by name, written name=value with no separator,
// wrapped in the phrase on both sides, hashed with shaType and written in lower-case
// hex. The request phrase signs requests, the response phrase answers. A TOKENIZATION
// form leaves its card fields out.
func Sign(params map[string]string, phrase, shaType string) (string, error) {
	h, err := hasher(shaType, phrase)
	if err != nil {
		return "", err
	}
	h.Write([]byte(SigningString(params, phrase)))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SigningString is the string Sign hashes, for tests and for debugging a mismatch
// (it holds the phrase: never log it).
func SigningString(params map[string]string, phrase string) string {
	skip := params["service_command"] == "TOKENIZATION"
	names := make([]string, 0, len(params))
	for k := range params {
		if k == "signature" || (skip && slices.Contains(tokenizationUnsigned, k)) {
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(phrase)
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	b.WriteString(phrase)
	return b.String()
}

// Verify reports whether params carry the signature Sign computes with phrase. The
// comparison is constant-time and ignores hex case (the documentation shows upper
// case, the official SDKs send lower case).
func Verify(params map[string]string, phrase, shaType string) bool {
	got, err := hex.DecodeString(strings.ToLower(params["signature"]))
	if err != nil || len(got) == 0 {
		return false
	}
	want, err := Sign(params, phrase, shaType)
	if err != nil {
		return false
	}
	w, _ := hex.DecodeString(want)
	return hmac.Equal(got, w)
}

func hasher(shaType, phrase string) (hash.Hash, error) {
	switch shaType {
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	case HMAC256:
		return hmac.New(sha256.New, []byte(phrase)), nil
	case HMAC512:
		return hmac.New(sha512.New, []byte(phrase)), nil
	}
	return nil, fmt.Errorf("aps: sha_type %q is not one of %s, %s, %s, %s", shaType, SHA256, SHA512, HMAC256, HMAC512)
}

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
// hex. The request phrase signs requests, the response phrase answers (every field
// of an answer, the masked card of a tokenization answer included).
func Sign(params map[string]string, phrase, shaType string) (string, error) {
	return sign(SigningString(params, phrase), phrase, shaType)
}

// SignTokenizationForm signs the Merchant Page 2.0 TOKENIZATION form, which alone
// leaves its card fields (card_number, expiry_date, card_security_code,
// card_holder_name, remember_me) out of the signature.
func SignTokenizationForm(params map[string]string, phrase, shaType string) (string, error) {
	return sign(signingString(params, phrase, tokenizationUnsigned), phrase, shaType)
}

// VerifyTokenizationForm checks a TOKENIZATION form's signature, as APS does.
func VerifyTokenizationForm(params map[string]string, phrase, shaType string) bool {
	want, err := SignTokenizationForm(params, phrase, shaType)
	return err == nil && equalHex(params["signature"], want)
}

func sign(s, phrase, shaType string) (string, error) {
	h, err := hasher(shaType, phrase)
	if err != nil {
		return "", err
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SigningString is the string Sign hashes, for tests and for debugging a mismatch
// (it holds the phrase: never log it).
func SigningString(params map[string]string, phrase string) string {
	return signingString(params, phrase, nil)
}

func signingString(params map[string]string, phrase string, unsigned []string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k == "signature" || slices.Contains(unsigned, k) {
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
	want, err := Sign(params, phrase, shaType)
	return err == nil && equalHex(params["signature"], want)
}

// equalHex compares two hex signatures in constant time, ignoring case.
func equalHex(got, want string) bool {
	g, err := hex.DecodeString(strings.ToLower(got))
	if err != nil || len(g) == 0 {
		return false
	}
	w, _ := hex.DecodeString(want)
	return hmac.Equal(g, w)
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

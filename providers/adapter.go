package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
)

// Fingerprint is a card number's fingerprint under an account's key: the same number
// gives the same value within one provider account, and nothing about the number
// can be read back from it. Adapters whose provider reports no fingerprint derive the
// key from their account's configuration.
func Fingerprint(key []byte, number string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(number))
	return "fp_" + hex.EncodeToString(m.Sum(nil))[:24]
}

// ScrubURLError keeps of a transport error only its *url.Error (operation, URL and
// cause), dropping whatever wrapped it, for adapters whose URLs carry no secret.
func ScrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: ue.URL, Err: ue.Err}
	}
	return err
}

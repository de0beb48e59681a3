package activities

import (
	"strings"
	"unicode/utf8"

	"github.com/recurring/recurring/billing"
)

// No string reaches the store with a NUL byte or invalid UTF-8 in it (DESIGN, Security).
// Postgres refuses both (SQLSTATE 22021) and SQLite keeps them, so the activities check
// before writing: a plan behaves the same on either store, and a value that can never
// be stored fails its activity at once instead of being retried.

// field is one named string an activity is about to store.
type field struct{ name, value string }

// checkStorable returns a KindInvalid error (non-retryable through storeError) naming
// the first field with a NUL byte or invalid UTF-8. The value itself is not echoed:
// it is the client's.
func checkStorable(what string, fields ...field) error {
	for _, f := range fields {
		if strings.IndexByte(f.value, 0) >= 0 || !utf8.ValidString(f.value) {
			return &billing.Error{Kind: billing.KindInvalid, Code: billing.CodeInvalidData, Param: f.name,
				Message: what + ": contains a NUL byte or invalid UTF-8, which the store cannot keep"}
		}
	}
	return nil
}

// storableText makes a provider's free text (a decline message, a code) storable:
// NUL bytes and invalid UTF-8 become U+FFFD. It is the provider's wording, not an
// identifier, so nothing is lost that retrying or failing the plan would save.
func storableText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

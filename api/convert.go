package api

// Request conversions: generated optional fields into values, generated types into domain types.

import (
	"encoding/json"

	"github.com/recurring/recurring/billing"
)

// deref returns *p, or the zero value when p is nil (an optional field left out).
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// derefOr returns *p, or def when p is nil.
func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// jsonConvert moves a generated request type into the domain type with the same JSON
// shape; a value the domain type cannot hold names param.
func jsonConvert(from, to any, param string) error {
	raw, err := json.Marshal(from)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, to); err != nil {
		return billing.Invalid(param, billing.CodeInvalidValue, "%s: %v", param, err)
	}
	return nil
}

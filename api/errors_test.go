package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/recurring/recurring/billing"
)

func TestDescribeMapsEveryKind(t *testing.T) {
	for kind, want := range statusOf {
		err := fmt.Errorf("wrapped: %w", &billing.Error{Kind: kind, Code: "some_code", Param: "field", Message: "secret detail"})
		d, status := describe(err)
		if status != want.status || d.Type != want.typ || d.Code != "some_code" {
			t.Errorf("%s: got %d %s %s, want %d %s some_code", kind, status, d.Type, d.Code, want.status, want.typ)
		}
		if status >= 500 && strings.Contains(d.Message, "secret detail") {
			t.Errorf("%s: a 5xx shows the internal message %q", kind, d.Message)
		}
		if status < 500 && d.Param != "field" {
			t.Errorf("%s: param %q, want field", kind, d.Param)
		}
	}
}

func TestDescribeValidationNamesTheFirstField(t *testing.T) {
	var v billing.ValidationError
	v.Add("schedule.frequency", "invalid_frequency", "frequency must be days, weeks, months or years")
	v.Add("currency", "invalid_currency", "unknown currency")
	d, status := describe(fmt.Errorf("create plan: %w", v.Err()))
	if status != http.StatusBadRequest || d.Param != "schedule.frequency" || d.Code != "invalid_frequency" {
		t.Fatalf("got %d %+v", status, d)
	}
	if !strings.Contains(d.Message, "currency") {
		t.Errorf("message %q does not list the second violation", d.Message)
	}
}

func TestDescribeHidesUnknownErrors(t *testing.T) {
	d, status := describe(errors.New("pq: password authentication failed for user admin"))
	if status != http.StatusInternalServerError || strings.Contains(d.Message, "password") {
		t.Fatalf("got %d %+v", status, d)
	}
}

package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/recurring/recurring/billing"
)

// errorBody is the JSON every error response carries.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Param     string `json:"param,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// statusOf is the one table from error kinds to HTTP status and error type.
var statusOf = map[billing.Kind]struct {
	status int
	typ    string
}{
	billing.KindInvalid:         {http.StatusBadRequest, "invalid_request_error"},
	billing.KindUnauthenticated: {http.StatusUnauthorized, "authentication_error"},
	billing.KindCardDeclined:    {http.StatusPaymentRequired, "card_error"},
	billing.KindNotFound:        {http.StatusNotFound, "invalid_request_error"},
	billing.KindConflict:        {http.StatusConflict, "invalid_request_error"},
	billing.KindUnprocessable:   {http.StatusUnprocessableEntity, "invalid_request_error"},
	billing.KindRateLimited:     {http.StatusTooManyRequests, "invalid_request_error"},
	billing.KindUnavailable:     {http.StatusServiceUnavailable, "api_error"},
	billing.KindInternal:        {http.StatusInternalServerError, "api_error"},
}

// errorHandler renders every error as an errorBody. Internal errors are logged with the
// request id and shown to the client only as a generic message with that id.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		detail, status := describe(err)
		detail.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		if status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", "5") // a dependency is down or slow: come back soon
		}
		if status >= 500 {
			logger.ErrorContext(c.Request().Context(), "request failed", "error", err, "request_id", detail.RequestID,
				"method", c.Request().Method, "path", c.Path())
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, errorBody{Error: detail})
		}
		if err != nil {
			logger.Error("write error response", "error", err)
		}
	}
}

func describe(err error) (errorDetail, int) {
	var v *billing.ValidationError
	if errors.As(err, &v) && len(v.Violations) > 0 {
		first := v.Violations[0]
		msgs := make([]string, len(v.Violations))
		for i, e := range v.Violations {
			msgs[i] = e.Message
		}
		return errorDetail{Type: "invalid_request_error", Code: first.Code, Message: strings.Join(msgs, "; "), Param: first.Param}, http.StatusBadRequest
	}
	var be *billing.Error
	if errors.As(err, &be) {
		s, ok := statusOf[be.Kind]
		if !ok {
			s = statusOf[billing.KindInternal]
		}
		if s.status >= 500 && be.Code != billing.CodeTemporalUnavailable { // the engine's own words about its workflow service may show
			return errorDetail{Type: s.typ, Code: be.Code, Message: "internal error; quote the request id when reporting it"}, s.status
		}
		return errorDetail{Type: s.typ, Code: be.Code, Message: be.Message, Param: be.Param}, s.status
	}
	var ute *json.UnmarshalTypeError
	var bindErr *echo.HTTPError
	if errors.As(err, &bindErr) && bindErr.Code == http.StatusBadRequest && errors.As(bindErr.Internal, &ute) {
		// The body matched openapi.yaml (kin-openapi reads every number as a float) but
		// does not fit the Go type: an integer beyond int64 or written as 100.0 or 1e2.
		return decodeError(ute), http.StatusBadRequest
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return echoError(he), he.Code
	}
	return errorDetail{Type: "api_error", Code: billing.CodeInternalError, Message: "internal error; quote the request id when reporting it"}, http.StatusInternalServerError
}

// decodeError names the field of a JSON value that does not fit its Go type, without
// quoting the value.
func decodeError(ute *json.UnmarshalTypeError) errorDetail {
	d := errorDetail{Type: "invalid_request_error", Code: billing.CodeInvalidType, Param: ute.Field}
	if d.Param == "" {
		d.Message = "the request body does not have the expected types"
		return d
	}
	switch ute.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if digits, ok := strings.CutPrefix(ute.Value, "number "); ok && !strings.ContainsAny(digits, ".eE") {
			d.Code = billing.CodeInvalidValue
			d.Message = fmt.Sprintf("%s is out of range: at most %d", ute.Field, maxOf(ute.Type))
			return d
		}
		d.Message = fmt.Sprintf("%s must be an integer written without a fraction or exponent", ute.Field)
	default:
		d.Message = fmt.Sprintf("%s must be %s", ute.Field, goTypeName(ute.Type))
	}
	return d
}

func maxOf(t reflect.Type) int64 {
	return int64(1)<<(t.Bits()-1) - 1
}

func goTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}

// echoError describes the errors Echo itself raises (no route, wrong method, body too
// large) in our shape.
func echoError(he *echo.HTTPError) errorDetail {
	d := errorDetail{Type: "invalid_request_error", Message: http.StatusText(he.Code)}
	switch he.Code {
	case http.StatusNotFound:
		d.Code = billing.CodeRouteNotFound
	case http.StatusMethodNotAllowed:
		d.Code = billing.CodeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		d.Code = billing.CodeBodyTooLarge
		d.Message = "request body exceeds 1 MiB"
	case http.StatusUnauthorized:
		d.Type, d.Code = "authentication_error", billing.CodeInvalidAPIKey
	case http.StatusTooManyRequests:
		d.Code = billing.CodeRateLimited
	default:
		if he.Code >= 500 {
			d.Type, d.Code = "api_error", billing.CodeInternalError
		} else {
			d.Code = billing.CodeInvalidRequest
		}
	}
	return d
}

// naming returns a copy of err's *billing.Error naming param (and of kind, when set),
// or err as it is.
func naming(err error, param string, kind billing.Kind) error {
	var be *billing.Error
	if !errors.As(err, &be) {
		return err
	}
	cp := *be
	cp.Param = param
	if kind != "" {
		cp.Kind = kind
	}
	return &cp
}

// withParam names the request field a not-found reference came from.
func withParam(err error, param string) error {
	var be *billing.Error
	if errors.As(err, &be) && be.Kind == billing.KindNotFound {
		cp := *be
		cp.Param = param
		cp.Message = "no such " + strings.ReplaceAll(param, "_", " ")
		return &cp
	}
	return err
}

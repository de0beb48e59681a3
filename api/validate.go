package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	nethttpmiddleware "github.com/oapi-codegen/nethttp-middleware"

	"github.com/recurring/recurring/billing"
)

// fieldCodes gives some fields a specific code for a bad value, the same code the
// handler's own checks use, so a client sees one code whichever layer caught it.
var fieldCodes = map[string]string{
	"email":                   billing.CodeInvalidEmail,
	"billing_address.country": billing.CodeInvalidCountry,
	"card.number":             billing.CodeInvalidCardNumber,
	"card.exp_month":          billing.CodeInvalidExpiryMonth,
	"card.exp_year":           billing.CodeInvalidExpiryYear,
	"card.cvc":                billing.CodeInvalidCVC,
}

type validationHolder struct{ err error }

type validationHolderKey struct{}

// validateRequests checks every request against the OpenAPI document before its
// handler runs, with oapi-codegen's nethttp-middleware (kin-openapi underneath). It is
// adapted to Echo here rather than with echo.WrapMiddleware so that a failed validation
// becomes an error for the one HTTPErrorHandler instead of a response written aside.
func validateRequests(spec []byte) (echo.MiddlewareFunc, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is invalid: %w", err)
	}
	validator := nethttpmiddleware.OapiRequestValidatorWithOptions(doc, &nethttpmiddleware.Options{
		Options: openapi3filter.Options{
			// authenticate has already resolved the key.
			AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
			RejectWhenRequestBodyNotSpecified: true,
			// Schema errors otherwise quote the offending value, which may be a card
			// number.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		},
		// The servers entry documents the dev address; requests arrive under any host.
		DoNotValidateServers:  true,
		DiscardValidatedValue: true,
		ErrorHandlerWithOpts: func(ctx context.Context, err error, _ http.ResponseWriter, _ *http.Request, opts nethttpmiddleware.ErrorHandlerOpts) {
			if h, ok := ctx.Value(validationHolderKey{}).(*validationHolder); ok {
				h.err = requestError(err, opts.MatchedRoute != nil)
			}
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			holder := &validationHolder{}
			var nextErr error
			h := validator(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				nextErr = next(c)
			}))
			if err := refuseControlCharacters(c); err != nil {
				return err
			}
			req := emptyObjectAsJSON(c.Request())
			h.ServeHTTP(c.Response(), req.WithContext(context.WithValue(req.Context(), validationHolderKey{}, holder)))
			if holder.err != nil {
				return holder.err
			}
			return nextErr
		}
	}, nil
}

// refuseControlCharacters refuses, naming the field, any path parameter, query
// parameter, Idempotency-Key or JSON string (member names included) holding NUL or
// another C0 control character other than tab, newline and carriage return in body
// text. Postgres cannot store NUL in text at all (and would answer a 500), no id or
// key has control characters, and none may reach SQL or a workflow.
func refuseControlCharacters(c echo.Context) error {
	for i, name := range c.ParamNames() {
		if i < len(c.ParamValues()) && hasControl(c.ParamValues()[i], false) {
			return billing.Invalid(name, billing.CodeInvalidCharacters, "%s must be UTF-8 without NUL or other control characters", name)
		}
	}
	req := c.Request()
	for name, values := range req.URL.Query() {
		for _, v := range values {
			if hasControl(name, false) || hasControl(v, false) {
				return billing.Invalid(strings.ToValidUTF8(strings.Map(dropControl, name), ""), billing.CodeInvalidCharacters,
					"query parameter %s must be UTF-8 without NUL or other control characters", strings.Map(dropControl, name))
			}
		}
	}
	if hasControl(req.Header.Get(HeaderIdempotencyKey), false) {
		return billing.Invalid(HeaderIdempotencyKey, billing.CodeInvalidCharacters, "Idempotency-Key must not contain control characters")
	}
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err // the body limit
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	if bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, 0x7f) < 0 {
		return nil // no JSON string holds a control character: they must be escaped
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil // not JSON: validation says so
	}
	if path, bad := controlIn(v, nil); bad {
		param := strings.Join(path, ".")
		if param == "" {
			return billing.Invalid("", billing.CodeInvalidCharacters, "the request body must be UTF-8 without NUL or other control characters")
		}
		return billing.Invalid(param, billing.CodeInvalidCharacters, "%s must be UTF-8 without NUL or other control characters", param)
	}
	return nil
}

// controlIn returns the path of the first string in v (in member-name order) that holds
// a control character.
func controlIn(v any, path []string) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return path, hasControl(v, true)
	case []any:
		for i, e := range v {
			if p, bad := controlIn(e, append(path, strconv.Itoa(i))); bad {
				return p, true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if hasControl(k, false) {
				return path, true // the member's name itself: name the object holding it
			}
			if p, bad := controlIn(v[k], append(path, k)); bad {
				return p, true
			}
		}
	}
	return nil, false
}

// hasControl reports a C0 control character or DEL, or bytes that are not UTF-8 (which
// Postgres refuses as well); text may hold tab, newline and carriage return.
func hasControl(s string, text bool) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			if text && (r == '\t' || r == '\n' || r == '\r') {
				continue
			}
			return true
		}
	}
	return false
}

func dropControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

// emptyObjectAsJSON labels a body of exactly {} as JSON when it came without a media
// type or as text/plain, which is what fetch(url, {method: "POST", body: "{}"}) sends:
// the action routes take an optional empty object, and the content is unmistakable.
// Any other body keeps its Content-Type and meets the usual checks.
func emptyObjectAsJSON(r *http.Request) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	mt := r.Header.Get(echo.HeaderContentType)
	if mt != "" {
		if parsed, _, err := mime.ParseMediaType(mt); err != nil || parsed != "text/plain" {
			return r
		}
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, 64))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil || len(head) == 64 || string(bytes.Join(bytes.Fields(head), nil)) != "{}" {
		return r
	}
	r.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	return r
}

type readCloser struct {
	io.Reader
	io.Closer
}

// requestError turns a kin-openapi validation failure into the API's error: never a
// 5xx, and with param naming the field. Messages are built from kin-openapi's reasons,
// which never quote the value, rather than from Error(), which may.
func requestError(err error, routeFound bool) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he // the body limit, hit while reading the body
	}
	if !routeFound {
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			return echo.ErrMethodNotAllowed
		}
		return echo.ErrNotFound
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return billing.Errorf(billing.KindInvalid, billing.CodeInvalidRequest, "the request does not match the API description")
	}
	switch {
	case re.Parameter != nil:
		return parameterError(re)
	case re.RequestBody != nil:
		return bodyError(re)
	case re.Err != nil && strings.Contains(re.Err.Error(), "request body not allowed"):
		return billing.Invalid("", billing.CodeBodyNotAllowed, "this endpoint takes no request body")
	}
	return billing.Errorf(billing.KindInvalid, billing.CodeInvalidRequest, "the request does not match the API description")
}

func parameterError(re *openapi3filter.RequestError) error {
	name := re.Parameter.Name
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return billing.Invalid(name, billing.CodeParameterMissing, "%s is required", name)
	case errors.Is(re.Err, openapi3filter.ErrInvalidEmptyValue):
		return billing.Invalid(name, billing.CodeInvalidValue, "%s must not be empty", name)
	case errors.As(re.Err, &se):
		code := billing.CodeInvalidValue
		if se.SchemaField == "type" {
			code = billing.CodeInvalidType
		}
		return billing.Invalid(name, code, "%s: %s", name, reason(se))
	case errors.As(re.Err, &pe):
		return billing.Invalid(name, billing.CodeInvalidType, "%s must be %s", name, schemaType(re.Parameter.Schema))
	}
	return billing.Invalid(name, billing.CodeInvalidValue, "%s is invalid", name)
}

func bodyError(re *openapi3filter.RequestError) error {
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return billing.Invalid("", billing.CodeParameterMissing, "this endpoint needs a JSON object as its request body")
	case strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
		return billing.Invalid("Content-Type", billing.CodeUnsupportedMediaType, "send the request body as JSON with Content-Type: application/json")
	case errors.As(re.Err, &pe):
		return billing.Invalid("", billing.CodeInvalidJSON, "the request body is not valid JSON")
	case errors.As(re.Err, &se):
		return schemaError(innermost(se))
	}
	return billing.Invalid("", billing.CodeInvalidJSON, "the request body could not be read as JSON")
}

// innermost follows a schema error through allOf/oneOf wrappers to the failure that
// names the field.
func innermost(se *openapi3.SchemaError) *openapi3.SchemaError {
	for {
		var me openapi3.MultiError
		var inner *openapi3.SchemaError
		switch {
		case errors.As(se.Origin, &me) && len(me) > 0 && errors.As(me[0], &inner):
		case se.Origin != nil && errors.As(se.Origin, &inner):
		default:
			return se
		}
		se = inner
	}
}

func schemaError(se *openapi3.SchemaError) error {
	path := se.JSONPointer()
	param := strings.Join(path, ".")
	switch se.SchemaField {
	case "required":
		return billing.Invalid(param, billing.CodeParameterMissing, "%s is required", param)
	case "properties", "additionalProperties":
		if unknown := unknownField(se); unknown != "" {
			param = strings.Join(append(path, unknown), ".")
			return billing.Invalid(param, billing.CodeParameterUnknown, "%s is not a field this endpoint takes", param)
		}
	case "type", "nullable":
		if param == "" {
			return billing.Invalid("", billing.CodeInvalidType, "the request body must be a JSON object")
		}
		return billing.Invalid(param, billing.CodeInvalidType, "%s must be %s", param, schemaType(&openapi3.SchemaRef{Value: se.Schema}))
	}
	code := billing.CodeInvalidValue
	if c, ok := fieldCodes[param]; ok {
		code = c
	}
	if se.SchemaField == "format" && se.Schema != nil && (se.Schema.Format == "int64" || se.Schema.Format == "int32") && param != "" {
		return billing.Invalid(param, code, "%s is out of range for a %s integer", param, strings.TrimPrefix(se.Schema.Format, "int")+"-bit")
	}
	if se.SchemaField == "minLength" && se.Value == "" && param != "" {
		return billing.Invalid(param, code, "%s must not be empty", param)
	}
	if param == "" {
		return billing.Invalid("", code, "the request body is invalid: %s", reason(se))
	}
	return billing.Invalid(param, code, "%s: %s", param, reason(se))
}

// unknownField names the first member of the failing object that its schema does not
// declare.
func unknownField(se *openapi3.SchemaError) string {
	obj, ok := se.Value.(map[string]any)
	if !ok || se.Schema == nil {
		return ""
	}
	var unknown []string
	for k := range obj {
		if _, declared := se.Schema.Properties[k]; !declared {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	slices.Sort(unknown)
	return unknown[0]
}

func reason(se *openapi3.SchemaError) string {
	if se.Reason != "" {
		return se.Reason
	}
	return "does not match " + se.SchemaField
}

func schemaType(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil || ref.Value.Type == nil {
		return "a valid value"
	}
	switch {
	case ref.Value.Type.Is("string"):
		return "a string"
	case ref.Value.Type.Is("integer"):
		return "an integer"
	case ref.Value.Type.Is("number"):
		return "a number"
	case ref.Value.Type.Is("boolean"):
		return "true or false"
	case ref.Value.Type.Is("object"):
		return "an object"
	case ref.Value.Type.Is("array"):
		return "an array"
	}
	return "a valid value"
}

package providers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
)

// This file is the one place where a failure becomes a Class. Adapters only describe
// what the provider said (a Failure); Classify decides. Changing how the engine treats a
// decline means changing a row here, for every provider at once.

// Decision is the verdict on one signal: what the engine may do and under which code.
type Decision struct {
	Class Class
	Code  string
	// RetryAfter is a hint carried by the signal itself (Mastercard advice 24–30).
	RetryAfter time.Duration
}

// Failure is what an adapter knows about a failed call, in the provider's and the card
// network's own words. Zero fields are simply unknown.
type Failure struct {
	Provider string
	// Reason is the provider's decline or error code. The vocabulary is Stripe's
	// (decline_code, else code), which the simulator speaks too and other adapters
	// translate into: "insufficient_funds", "expired_card", "processing_error", …
	Reason string
	// Network is the card brand that carried the authorization ("visa", "mastercard"); it
	// says how to read NetworkCode and AdviceCode.
	Network string
	// NetworkCode is the raw network response code (Visa "05", "51", "R1").
	NetworkCode string
	// AdviceCode is the network's merchant advice code (Mastercard "03", "21", "24").
	AdviceCode string
	// ProviderAdvice is the provider's normalized advice: "do_not_try_again",
	// "try_again_later", "confirm_card_data".
	ProviderAdvice string
	// HTTPStatus is the provider's HTTP status, 0 when no response arrived.
	HTTPStatus int
	// RetryAfter is the provider's Retry-After, if any.
	RetryAfter time.Duration
	ChargeID   string
	Message    string
	// Err is the transport error when no response arrived; timeouts are recognised in it.
	Err error
}

// reasons maps provider reasons (Stripe's vocabulary) to decisions. Unknown reasons fall
// back to the network codes and then to the HTTP status.
var reasons = map[string]Decision{
	// Hard: the same card will not be approved again.
	"expired_card":                      {Class: ClassHardDecline, Code: billing.CodeCardExpired},
	"card_expired":                      {Class: ClassHardDecline, Code: billing.CodeCardExpired},
	"lost_card":                         {Class: ClassHardDecline, Code: billing.CodeLostCard},
	"stolen_card":                       {Class: ClassHardDecline, Code: billing.CodeStolenCard},
	"pickup_card":                       {Class: ClassHardDecline, Code: billing.CodeCardBlocked},
	"restricted_card":                   {Class: ClassHardDecline, Code: billing.CodeCardBlocked},
	"card_blocked":                      {Class: ClassHardDecline, Code: billing.CodeCardBlocked},
	"fraudulent":                        {Class: ClassHardDecline, Code: billing.CodeCardBlocked},
	"merchant_blacklist":                {Class: ClassHardDecline, Code: billing.CodeCardBlocked},
	"security_violation":                {Class: ClassHardDecline, Code: billing.CodeCardBlocked},
	"recurring_not_supported":           {Class: ClassHardDecline, Code: billing.CodeRecurringNotSupported},
	"account_closed":                    {Class: ClassHardDecline, Code: billing.CodeAccountClosed},
	"invalid_account":                   {Class: ClassHardDecline, Code: billing.CodeAccountClosed},
	"do_not_try_again":                  {Class: ClassHardDecline, Code: billing.CodeDoNotRetry},
	"revocation_of_authorization":       {Class: ClassHardDecline, Code: billing.CodeAuthorizationRevoked},
	"revocation_of_all_authorizations":  {Class: ClassHardDecline, Code: billing.CodeAuthorizationRevoked},
	"stop_payment_order":                {Class: ClassHardDecline, Code: billing.CodeAuthorizationRevoked},
	"not_permitted":                     {Class: ClassHardDecline, Code: billing.CodeTransactionNotAllowed},
	"service_not_allowed":               {Class: ClassHardDecline, Code: billing.CodeTransactionNotAllowed},
	"transaction_not_allowed":           {Class: ClassHardDecline, Code: billing.CodeTransactionNotAllowed},
	"incorrect_number":                  {Class: ClassHardDecline, Code: billing.CodeInvalidCardNumber},
	"invalid_number":                    {Class: ClassHardDecline, Code: billing.CodeInvalidCardNumber},
	"incorrect_cvc":                     {Class: ClassHardDecline, Code: billing.CodeIncorrectCVC},
	"invalid_cvc":                       {Class: ClassHardDecline, Code: billing.CodeIncorrectCVC},
	"invalid_expiry_month":              {Class: ClassHardDecline, Code: billing.CodeCardExpired},
	"invalid_expiry_year":               {Class: ClassHardDecline, Code: billing.CodeCardExpired},
	"new_account_information_available": {Class: ClassHardDecline, Code: billing.CodeNewAccountInformation},
	"card_not_supported":                {Class: ClassHardDecline, Code: billing.CodeCardNotSupported},
	"currency_not_supported":            {Class: ClassHardDecline, Code: billing.CodeCurrencyNotSupported},

	// Soft: the issuer may approve another day.
	"insufficient_funds":              {Class: ClassSoftDecline, Code: billing.CodeInsufficientFunds},
	"generic_decline":                 {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"card_declined":                   {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"do_not_honor":                    {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"call_issuer":                     {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"approve_with_id":                 {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"no_action_taken":                 {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"reenter_transaction":             {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"try_again_later":                 {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"duplicate_transaction":           {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},
	"card_velocity_exceeded":          {Class: ClassSoftDecline, Code: billing.CodeLimitExceeded},
	"withdrawal_count_limit_exceeded": {Class: ClassSoftDecline, Code: billing.CodeLimitExceeded},
	// Stripe blocks a card for 24 hours after too many declines on it.
	"card_decline_rate_limit_exceeded": {Class: ClassSoftDecline, Code: billing.CodeLimitExceeded, RetryAfter: 24 * time.Hour},
	"issuer_not_available":             {Class: ClassSoftDecline, Code: billing.CodeIssuerUnavailable},
	"issuer_unavailable":               {Class: ClassSoftDecline, Code: billing.CodeIssuerUnavailable},

	// Transient: nothing was decided; retry the same request.
	"processing_error":       {Class: ClassTransient, Code: billing.CodeProcessingError},
	"timeout":                {Class: ClassTransient, Code: billing.CodeTimeout},
	"rate_limit":             {Class: ClassTransient, Code: billing.CodeRateLimited},
	"rate_limited":           {Class: ClassTransient, Code: billing.CodeRateLimited},
	"lock_timeout":           {Class: ClassTransient, Code: billing.CodeRateLimited},
	"idempotency_key_in_use": {Class: ClassTransient, Code: billing.CodeIdempotencyKeyInUse},

	// The customer must authenticate.
	"authentication_required":               {Class: ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
	"payment_intent_authentication_failure": {Class: ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
	"offline_pin_required":                  {Class: ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
	"online_or_offline_pin_required":        {Class: ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},

	// Our request was wrong.
	"idempotency_conflict":     {Class: ClassInvalidRequest, Code: billing.CodeIdempotencyConflict},
	"resource_missing":         {Class: ClassInvalidRequest, Code: billing.CodeResourceMissing},
	"payment_method_not_found": {Class: ClassInvalidRequest, Code: billing.CodePaymentMethodNotFound},
	"amount_too_small":         {Class: ClassInvalidRequest, Code: billing.CodeInvalidAmount},
	"amount_too_large":         {Class: ClassInvalidRequest, Code: billing.CodeInvalidAmount},
	"invalid_amount":           {Class: ClassInvalidRequest, Code: billing.CodeInvalidAmount},
	"invalid_charge_amount":    {Class: ClassInvalidRequest, Code: billing.CodeInvalidAmount},
	"api_key_expired":          {Class: ClassInvalidRequest, Code: billing.CodeProviderAuthenticationFailed},
}

// ClassifyReason looks a provider reason up in the shared table.
func ClassifyReason(reason string) (Decision, bool) {
	d, ok := reasons[strings.ToLower(strings.TrimSpace(reason))]
	return d, ok
}

// visaCategory1 are Visa's "issuer will never approve" response codes. Visa forbids
// reattempting them and fines merchants who do, so they are hard whatever the provider's
// own reason says.
var visaCategory1 = map[string]string{
	"04": billing.CodeCardBlocked,           // pick up card
	"07": billing.CodeCardBlocked,           // pick up card, special conditions
	"12": billing.CodeTransactionNotAllowed, // invalid transaction
	"14": billing.CodeInvalidCardNumber,     // invalid account number
	"15": billing.CodeInvalidCardNumber,     // no such issuer
	"41": billing.CodeLostCard,              // lost card, pick up
	"43": billing.CodeStolenCard,            // stolen card, pick up
	"46": billing.CodeAccountClosed,         // closed account
	"57": billing.CodeTransactionNotAllowed, // transaction not permitted to cardholder
	"R0": billing.CodeAuthorizationRevoked,  // stop payment order
	"R1": billing.CodeAuthorizationRevoked,  // revocation of authorization order
	"R3": billing.CodeAuthorizationRevoked,  // revocation of all authorizations order
}

// visaOther are Visa codes outside category 1 that deserve their own code. Category 3
// (data quality) codes cannot succeed without new card data, so they are hard too;
// category 2 and 4 codes may be retried (Visa allows 15 reattempts in 30 days).
var visaOther = map[string]Decision{
	"54": {Class: ClassHardDecline, Code: billing.CodeCardExpired},  // cat 3: expired card
	"N7": {Class: ClassHardDecline, Code: billing.CodeIncorrectCVC}, // cat 3: CVV2 mismatch
	"1A": {Class: ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
	"51": {Class: ClassSoftDecline, Code: billing.CodeInsufficientFunds}, // cat 2
	"61": {Class: ClassSoftDecline, Code: billing.CodeLimitExceeded},     // cat 2: exceeds amount limit
	"65": {Class: ClassSoftDecline, Code: billing.CodeLimitExceeded},     // cat 2: exceeds count limit
	"91": {Class: ClassSoftDecline, Code: billing.CodeIssuerUnavailable}, // cat 2: issuer unavailable
	"96": {Class: ClassSoftDecline, Code: billing.CodeIssuerUnavailable}, // cat 2: system malfunction
	"05": {Class: ClassSoftDecline, Code: billing.CodeCardDeclined},      // cat 4: do not honor
}

// ClassifyVisa classifies a Visa authorization response code. Category 1 codes are never
// retried; unknown codes are Visa's category 4 (generic), a soft decline.
func ClassifyVisa(responseCode string) Decision {
	c := strings.ToUpper(strings.TrimSpace(responseCode))
	if code, ok := visaCategory1[c]; ok {
		return Decision{Class: ClassHardDecline, Code: code}
	}
	if d, ok := visaOther[c]; ok {
		return d
	}
	return Decision{Class: ClassSoftDecline, Code: billing.CodeCardDeclined}
}

// mastercardRetryAfter are Mastercard merchant advice codes 24–30: the issuer declined
// for now and says when a retry may succeed. Retrying earlier counts against Mastercard's
// excessive-retry limits.
var mastercardRetryAfter = map[string]time.Duration{
	"24": time.Hour,
	"25": 24 * time.Hour,
	"26": 2 * 24 * time.Hour,
	"27": 4 * 24 * time.Hour,
	"28": 6 * 24 * time.Hour,
	"29": 8 * 24 * time.Hour,
	"30": 10 * 24 * time.Hour,
}

// ClassifyMastercardAdvice classifies a Mastercard merchant advice code (MAC). ok is false
// for codes that carry no retry advice, leaving the decision to the decline reason.
//
//	01 new account information available → hard (update the card, not retry it)
//	02 cannot approve at this time        → soft
//	03 do not try again                   → hard
//	21 payment cancellation (recurring)   → hard: the cardholder stopped this merchant
//	24–30 retry after 1h, 24h, 2d, 4d, 6d, 8d, 10d → soft with RetryAfter
//	40 non-reloadable prepaid, 41 single-use virtual card → hard recurring_not_supported
func ClassifyMastercardAdvice(adviceCode string) (Decision, bool) {
	c := strings.TrimSpace(adviceCode)
	switch c {
	case "01":
		return Decision{Class: ClassHardDecline, Code: billing.CodeNewAccountInformation}, true
	case "02":
		return Decision{Class: ClassSoftDecline, Code: billing.CodeCardDeclined}, true
	case "03":
		return Decision{Class: ClassHardDecline, Code: billing.CodeDoNotRetry}, true
	case "21":
		return Decision{Class: ClassHardDecline, Code: billing.CodeAuthorizationRevoked}, true
	case "40", "41":
		return Decision{Class: ClassHardDecline, Code: billing.CodeRecurringNotSupported}, true
	}
	if d, ok := mastercardRetryAfter[c]; ok {
		return Decision{Class: ClassSoftDecline, Code: billing.CodeCardDeclined, RetryAfter: d}, true
	}
	return Decision{}, false
}

// Classify turns an adapter's Failure into the *Error the engine acts on.
//
// Precedence: the provider's reason decides, else the card network's response code, else
// the HTTP status or transport error. Then never-retry facts win: a Visa category 1
// code, a Mastercard advice code 01/03/21/40/41 or the provider's "do_not_try_again"
// advice makes any decline hard, because retrying them gets merchants fined or flagged.
// Mastercard advice 24–30 lengthen a soft decline's RetryAfter.
func Classify(f Failure) *Error {
	network := strings.ToLower(f.Network)
	d, ok := ClassifyReason(f.Reason)
	if !ok && network == "visa" && f.NetworkCode != "" {
		d, ok = ClassifyVisa(f.NetworkCode), true
	}
	if !ok {
		d = classifyTransport(f)
	}
	retryAfter := max(f.RetryAfter, d.RetryAfter)

	if isDecline(d.Class) {
		if network == "visa" && f.NetworkCode != "" {
			if v := ClassifyVisa(f.NetworkCode); v.Class == ClassHardDecline {
				d = harden(d, v)
			}
		}
		if network == "mastercard" || network == "" {
			if m, ok := ClassifyMastercardAdvice(f.AdviceCode); ok {
				if m.Class == ClassHardDecline {
					d = harden(d, m)
				} else if d.Class == ClassSoftDecline {
					retryAfter = max(retryAfter, m.RetryAfter)
				}
			}
		}
		if strings.EqualFold(f.ProviderAdvice, "do_not_try_again") {
			d = harden(d, Decision{Class: ClassHardDecline, Code: billing.CodeDoNotRetry})
		}
	}
	if d.Class == ClassHardDecline {
		// A hard decline has no "later".
		retryAfter = 0
	}

	msg := f.Message
	if msg == "" {
		msg = defaultMessage(d)
	}
	return &Error{
		Class:       d.Class,
		Code:        d.Code,
		Message:     msg,
		Provider:    f.Provider,
		DeclineCode: f.Reason,
		NetworkCode: f.NetworkCode,
		AdviceCode:  f.AdviceCode,
		ChargeID:    f.ChargeID,
		RetryAfter:  retryAfter,
		Err:         f.Err,
	}
}

func isDecline(c Class) bool {
	return c == ClassHardDecline || c == ClassSoftDecline || c == ClassAuthenticationRequired
}

// harden keeps an already-hard decision (its code is the more specific one, for example
// lost_card) and otherwise takes the network's hard verdict.
func harden(d, hard Decision) Decision {
	if d.Class == ClassHardDecline {
		return d
	}
	return hard
}

func classifyTransport(f Failure) Decision {
	if f.Err != nil && isTimeout(f.Err) {
		return Decision{Class: ClassTransient, Code: billing.CodeTimeout}
	}
	switch s := f.HTTPStatus; {
	case s == 0 && f.Err != nil:
		return Decision{Class: ClassTransient, Code: billing.CodeNetworkError}
	case s == http.StatusRequestTimeout:
		return Decision{Class: ClassTransient, Code: billing.CodeTimeout}
	case s == http.StatusConflict:
		return Decision{Class: ClassTransient, Code: billing.CodeIdempotencyKeyInUse}
	case s == http.StatusTooManyRequests:
		return Decision{Class: ClassTransient, Code: billing.CodeRateLimited}
	case s >= 500:
		return Decision{Class: ClassTransient, Code: billing.CodeProviderUnavailable}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return Decision{Class: ClassInvalidRequest, Code: billing.CodeProviderAuthenticationFailed}
	case s == http.StatusNotFound:
		return Decision{Class: ClassInvalidRequest, Code: billing.CodeResourceMissing}
	case s == http.StatusPaymentRequired || (s >= 200 && s < 300):
		// A decline (or a payment left unpaid) without a reason we know: treat it as
		// Visa's generic category 4 and let dunning try again.
		return Decision{Class: ClassSoftDecline, Code: billing.CodeCardDeclined}
	case s >= 400:
		return Decision{Class: ClassInvalidRequest, Code: billing.CodeInvalidRequest}
	}
	// Nothing at all is known: assume the network ate the answer. Retrying with the same
	// idempotency key is always safe.
	return Decision{Class: ClassTransient, Code: billing.CodeNetworkError}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func defaultMessage(d Decision) string {
	switch d.Class {
	case ClassHardDecline:
		return "the card was declined and must not be charged again"
	case ClassSoftDecline:
		return "the card was declined; it may be retried later"
	case ClassTransient:
		return "the provider could not process the request; retry with the same idempotency key"
	case ClassAuthenticationRequired:
		return "the cardholder must authenticate this payment"
	}
	return "the provider rejected the request"
}

// TransportError classifies an error that happened before any provider answer (timeout,
// refused connection, cancelled context). Adapters use it for their own I/O failures.
func TransportError(provider string, err error) *Error {
	return Classify(Failure{Provider: provider, Err: err, Message: transportMessage(err)})
}

func transportMessage(err error) string {
	if isTimeout(err) {
		return "the provider did not answer in time"
	}
	if errors.Is(err, context.Canceled) {
		return "the call was cancelled before the provider answered"
	}
	return "the provider could not be reached"
}

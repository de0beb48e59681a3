package axerve

import (
	"net/http"
	"strconv"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Axerve reports a payment's failure as transactionResult KO with a numeric
// transactionErrorCode, and a refused request as error.code in the answer's envelope;
// both come from one table in its reference. failure translates them into the shared
// vocabulary (providers.Failure) and lets providers.Classify decide. The split into
// hard and soft declines is the adapter's reading of the codes' descriptions.

// codeNotFound is the envelope code the adapter takes as "no such transaction" from
// payment/detail (the reference lists it as "transaction not found" for refunds and
// captures; it documents no other).
const codeNotFound = "2011"

// reasons maps Axerve codes to the shared reasons (Stripe's vocabulary).
var reasons = map[string]string{
	"8006": billing.CodeAuthenticationRequired, "8026": billing.CodeAuthenticationRequired,
	"251": billing.CodeInsufficientFunds, "451": billing.CodeInsufficientFunds, "461": billing.CodeInsufficientFunds,
	"4102": billing.CodeInsufficientFunds, "4407": billing.CodeInsufficientFunds, "4704": billing.CodeInsufficientFunds,
	"7411": billing.CodeInsufficientFunds,
	"100":  "issuer_not_available", "212": "issuer_not_available", "468": "issuer_not_available", "810": "issuer_not_available",
	"418": "issuer_not_available", "7414": "issuer_not_available",
	"2000": "card_velocity_exceeded", "2001": "card_velocity_exceeded", "2002": "card_velocity_exceeded", "2003": "card_velocity_exceeded",
	"57": "restricted_card", "441": "restricted_card", "443": "restricted_card", "462": "restricted_card",
	"404": "pickup_card", "7415": "pickup_card",
	"433": "expired_card", "454": "expired_card", "7404": "expired_card", "1164": "expired_card",
	"401": "call_issuer", "402": "call_issuer", "4203": "call_issuer", "7405": "call_issuer",
	"414": "incorrect_number", "439": "incorrect_number", "456": "incorrect_number", "7403": "incorrect_number",
	"998": "incorrect_number", "1120": "incorrect_number", "4206": "incorrect_number",
	"436": billing.CodeCardNotSupported, "950": billing.CodeCardNotSupported, "4703": billing.CodeCardNotSupported,
	"7402": billing.CodeCardNotSupported,
	"208":  billing.CodeInvalidExpiryYear, "420": billing.CodeInvalidExpiryYear, "4401": billing.CodeInvalidExpiryYear,
	"4702": billing.CodeInvalidExpiryYear,
	"1149": billing.CodeIncorrectCVC,
	"1165": "revocation_of_authorization", // the token (or PayPal agreement) is gone: never again
	"1140": "generic_decline", "1143": "generic_decline", "2500": "generic_decline",
	"1131": "api_key_expired", "1132": "api_key_expired", "1142": "api_key_expired", "1166": "api_key_expired",
	"1169": "api_key_expired", "1170": "api_key_expired", "1171": "api_key_expired",
	"150": "api_key_expired", "458": "api_key_expired", "811": "api_key_expired", "951": "api_key_expired",
	"8015": billing.CodeInvalidAmount, "2014": billing.CodeInvalidAmount, "58": billing.CodeInvalidAmount,
	"1137": "duplicate_transaction", "4707": "duplicate_transaction",
	"1457": billing.CodeProcessingError, // our paymentToken expired between create and submit: look it up
	"1153": "generic_decline",           // the 3-D Secure enrolment check failed: this attempt only
}

// technical codes say the bank or network could not decide: the outcome is looked up.
var technical = map[string]bool{
	"403": true, "406": true, "409": true, "412": true, "413": true, "430": true, "490": true, "494": true, "600": true,
	"613": true, "614": true, "615": true, "415": true, "431": true, "491": true, "492": true, "1999": true, "9999": true,
}

// declined codes are authorisations refused without a more precise reason.
var declined = map[string]bool{
	"74": true, "97": true, "417": true, "7400": true, "7500": true, "7600": true, "405": true, "434": true, "435": true,
	"457": true, "4305": true, "7401": true,
}

// failure is the error for an Axerve code that is not a success.
func failure(code, description, ref string) *providers.Error {
	f := providers.Failure{Provider: Name, ChargeID: ref, HTTPStatus: http.StatusPaymentRequired,
		Message: "Axerve " + code + ": " + description}
	n, _ := strconv.Atoi(code)
	reason, known := reasons[code]
	switch {
	case known:
		f.Reason = reason
	case technical[code]:
		f.Reason = billing.CodeProcessingError
	case declined[code] || (n >= 901 && n <= 920):
		f.Reason = "generic_decline"
	case n >= 1100 && n < 1500:
		f.HTTPStatus = http.StatusBadRequest // a parameter Axerve refused: fix the integration
	case code == "":
		f.Reason = "generic_decline"
	default:
		f.Reason = "generic_decline"
	}
	e := providers.Classify(f)
	e.DeclineCode = code
	return e
}

// duplicate reports Axerve's refusal of a shopTransactionID it has processed before.
func duplicate(e *providers.Error) bool { return duplicateCode(e.DeclineCode) }

// duplicateCode is duplicate for a code a payment answered (transactionErrorCode).
func duplicateCode(code string) bool { return code == "1137" || code == "4707" }

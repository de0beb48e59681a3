package aps

import (
	"net/http"
	"strings"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// APS answers with a five-digit response_code: a two-digit status (14 purchase
// success, 13 purchase failure, 20 on hold, 00 invalid request, …) and a three-digit
// message. failure translates what is not a success into the shared vocabulary
// (providers.Failure) and lets providers.Classify decide, with the acquirer's ISO 8583
// code as the network code, so the card networks' rules (Visa category 1, …) apply
// here as for every provider.

// messageReasons maps APS message codes to the shared reasons (Stripe's vocabulary;
// where a reason is spelled like an engine code, the constant is used).
var messageReasons = map[string]string{
	"012": "expired_card",
	"100": billing.CodeInvalidExpiryYear,
	"016": "incorrect_number",
	"121": "incorrect_number",
	"029": billing.CodeInsufficientFunds,
	"030": billing.CodeAuthenticationRequired,
	"064": billing.CodeAuthenticationRequired,
	"065": billing.CodeAuthenticationRequired,
	"031": billing.CodeCardNotSupported, // invalid issuer
	"087": billing.CodeCardNotSupported, // BIN not accepted
	"785": "fraudulent",
	"050": "card_velocity_exceeded",
	"057": "card_velocity_exceeded",
	"058": "card_velocity_exceeded",
	"072": "generic_decline", // cancelled by the consumer
	"074": "generic_decline",
	"075": "generic_decline",
	"079": "generic_decline", // challenged by fraud rules
	"090": "generic_decline", // in review
	"005": billing.CodeInvalidAmount,
	"044": billing.CodePaymentMethodNotFound,
	"088": billing.CodePaymentMethodNotFound,
	"009": "api_key_expired", // invalid merchant identifier
	"010": "api_key_expired", // invalid access code
	"015": "api_key_expired", // inactive merchant account
}

// transientMessages mean nothing was decided, or APS does not know yet: the outcome is
// looked up (CHECK_STATUS) before anything is sent again.
var transientMessages = map[string]bool{
	"006": true, "051": true, "054": true, "071": true, "099": true, "119": true,
	"777": true, "778": true, "779": true, "780": true, "781": true, "784": true,
	"007": true, "066": true, // the order exists: a retry of one whose answer was lost
}

// configMessages are refusals about the merchant account's setup (currency, payment
// option, acquirer), which no card and no retry changes.
var configMessages = map[string]bool{
	"003": true, "013": true, "014": true, "017": true, "018": true, "019": true, "020": true, "021": true,
	"023": true, "024": true, "025": true, "026": true,
}

// acquirerReasons reads the acquirer's ISO 8583 response code that comes with a
// generic decline (message 666).
var acquirerReasons = map[string]string{
	"04": "pickup_card", "07": "pickup_card", "41": billing.CodeLostCard, "43": billing.CodeStolenCard,
	"54": "expired_card", "14": "incorrect_number", "15": "incorrect_number",
	"57": "not_permitted", "62": "restricted_card", "59": "fraudulent", "63": "security_violation",
	"51": billing.CodeInsufficientFunds, "61": "card_velocity_exceeded", "65": "card_velocity_exceeded",
	"05": "do_not_honor", "01": "call_issuer", "91": "issuer_not_available", "96": "issuer_not_available",
	"68": billing.CodeProcessingError,
}

// failure is the error for an answer that is not a success.
func (p *Provider) failure(answer map[string]string) *providers.Error {
	code := answer["response_code"]
	status, msg := "", ""
	if len(code) == 5 {
		status, msg = code[:2], code[2:]
	}
	f := providers.Failure{
		Provider: Name, ChargeID: answer["merchant_reference"], HTTPStatus: http.StatusPaymentRequired,
		Network: strings.ToLower(answer["payment_option"]), NetworkCode: answer["acquirer_response_code"],
		Message: "Amazon Payment Services " + code + ": " + answer["response_message"],
	}
	if f.Network == "" {
		f.Network = "visa" // the acquirer codes are ISO 8583, read as Visa's
	}
	reason, known := messageReasons[msg]
	switch {
	case transientMessages[msg] || status == "10" || status == "15" || status == "19" || status == "40" ||
		(status == "20" && msg != "064" && msg != "065"):
		// Not decided yet (incomplete, uncertain, pending, in review, on hold): the
		// order may still be paid, so it is looked up, never retried as a new order.
		f.Reason = billing.CodeProcessingError
	case configMessages[msg]:
		f.HTTPStatus = http.StatusBadRequest // the account's setup, not the card: an invalid request
	case msg == "008":
		f.Reason = "api_key_expired" // our signature was refused: a configuration error
	case known:
		f.Reason = reason
	case msg == "666":
		f.Reason = acquirerReasons[f.NetworkCode]
		if f.Reason == "" {
			f.Reason = "generic_decline"
		}
	case status == "00" || status == "":
		f.HTTPStatus = http.StatusBadRequest // an invalid request: fix the integration
	default:
		f.Reason = "generic_decline"
	}
	return providers.Classify(f)
}

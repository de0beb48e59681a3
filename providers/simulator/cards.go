package simulator

// The test-card table: what each documented card number (doc.go) does to a charge.

// outcome is what a test card does to a charge.
type outcome struct {
	reason      string // provider reason of a decline; "" succeeds
	networkCode string
	adviceCode  string
	special     special
}

// special is a card behaviour beyond a fixed success or decline.
type special int

const (
	plain special = iota
	failFirstAttempt
	neverAnswer
	succeedOnce
	declineMerchantInitiated
)

// testCards are the cards that do not simply succeed; every other number that passes
// the Luhn check does.
var testCards = map[string]outcome{
	"4000000000000002": {reason: "generic_decline", networkCode: "05"},
	"4000000000009995": {reason: "insufficient_funds", networkCode: "51"},
	"4000000000000069": {reason: "expired_card", networkCode: "54"},
	"4000000000009987": {reason: "lost_card", networkCode: "41"},
	"4000000000009979": {reason: "stolen_card", networkCode: "43"},
	"4100000000000019": {reason: "pickup_card", networkCode: "04"},
	"4000000000001307": {reason: "generic_decline", networkCode: "R1"},
	"4000000000000119": {special: failFirstAttempt},
	"4000000000000259": {special: neverAnswer},
	"4000000000000341": {reason: "insufficient_funds", networkCode: "51", special: succeedOnce},
	"4000002500003155": {reason: "authentication_required", networkCode: "1A"},
	"5200000000000247": {reason: "insufficient_funds", networkCode: "51", adviceCode: "24"},
	"5200000000000213": {reason: "generic_decline", networkCode: "05", adviceCode: "21"},
	"5100000000000040": {reason: "generic_decline", networkCode: "05", adviceCode: "40", special: declineMerchantInitiated},
}

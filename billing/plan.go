package billing

import (
	"fmt"
	"slices"
)

// PlanStatus is where a plan stands. A plan starts active, or incomplete while its
// customer has yet to pay the first installment on the hosted page; paused, blocked,
// past_due and action_required are ways of not charging for now; completed, canceled,
// failed and incomplete_expired are terminal.
type PlanStatus string

// Plan statuses.
const (
	// PlanActive: charging on schedule (dunning retries included).
	PlanActive PlanStatus = "active"
	// PlanPaused: the merchant paused it; installments falling due meanwhile are skipped.
	PlanPaused PlanStatus = "paused"
	// PlanBlocked: its card is blocked (fraud review); nothing is charged until unblocked,
	// then the waiting installment is charged at once and later ones keep their dates.
	PlanBlocked PlanStatus = "blocked"
	// PlanPastDue: an installment could not be collected (hard decline, or soft declines
	// past the last dunning retry); the plan waits for a new payment method or a cancel.
	PlanPastDue PlanStatus = "past_due"
	// PlanActionRequired: the customer must act (authenticate, or give a new card after
	// theirs was detached); the plan waits for a new payment method or a cancel.
	PlanActionRequired PlanStatus = "action_required"
	// PlanCompleted: every installment was charged or skipped, or expires_on passed.
	PlanCompleted PlanStatus = "completed"
	// PlanCanceled: canceled by the merchant, or by its dunning policy.
	PlanCanceled PlanStatus = "canceled"
	// PlanFailed: the plan cannot go on for a reason no new card fixes (the provider
	// refuses the request itself, for example its currency).
	PlanFailed PlanStatus = "failed"
	// PlanIncomplete: a plan created without a card waits for its customer to give one
	// on the hosted page, where the first installment is the authenticated
	// customer-initiated payment (or a zero-amount verification, for a later start).
	PlanIncomplete PlanStatus = "incomplete"
	// PlanIncompleteExpired: the customer did not complete the hosted page in time; the
	// plan never charged and never will.
	PlanIncompleteExpired PlanStatus = "incomplete_expired"
)

// PlanStatuses lists every status, for validating filters such as GET /v1/plans?status=.
var PlanStatuses = []PlanStatus{PlanActive, PlanPaused, PlanBlocked, PlanPastDue, PlanActionRequired, PlanCompleted,
	PlanCanceled, PlanFailed, PlanIncomplete, PlanIncompleteExpired}

// Valid reports whether s is a known status.
func (s PlanStatus) Valid() bool { return slices.Contains(PlanStatuses, s) }

// Terminal reports whether nothing can happen to a plan in status s any more.
func (s PlanStatus) Terminal() bool {
	return s == PlanCompleted || s == PlanCanceled || s == PlanFailed || s == PlanIncompleteExpired
}

// planTransitions is the one table of which status may follow which. Terminal statuses
// have no row: nothing follows them.
var planTransitions = map[PlanStatus][]PlanStatus{
	PlanActive:         {PlanPaused, PlanBlocked, PlanPastDue, PlanActionRequired, PlanCompleted, PlanCanceled, PlanFailed},
	PlanPaused:         {PlanActive, PlanBlocked, PlanPastDue, PlanActionRequired, PlanCompleted, PlanCanceled, PlanFailed},
	PlanBlocked:        {PlanActive, PlanPaused, PlanPastDue, PlanActionRequired, PlanCompleted, PlanCanceled, PlanFailed},
	PlanPastDue:        {PlanActive, PlanPaused, PlanBlocked, PlanActionRequired, PlanCanceled, PlanFailed},
	PlanActionRequired: {PlanActive, PlanPaused, PlanBlocked, PlanPastDue, PlanCanceled, PlanFailed},
	PlanIncomplete:     {PlanActive, PlanCanceled, PlanIncompleteExpired},
}

// CanTransition reports whether a plan in status from may move to status to.
func CanTransition(from, to PlanStatus) bool {
	return slices.Contains(planTransitions[from], to)
}

// PlanAction is an operation asked of a plan through the API.
type PlanAction string

// Plan actions.
const (
	ActionPause               PlanAction = "pause"
	ActionResume              PlanAction = "resume"
	ActionCancel              PlanAction = "cancel"
	ActionChangePaymentMethod PlanAction = "change_payment_method"
	ActionSkipNext            PlanAction = "skip_next"
)

// CheckAction returns nil when action may be applied to a plan in status, and a
// KindConflict *Error with code invalid_transition otherwise:
//   - pause from active or blocked (a blocked card stays blocked while paused);
//   - resume from paused only;
//   - cancel from any status but a terminal one;
//   - change_payment_method and skip_next from any status but a terminal one or
//     incomplete (its first card comes from the customer on the hosted page).
func CheckAction(status PlanStatus, action PlanAction) error {
	ok := false
	switch action {
	case ActionPause:
		ok = (status == PlanActive || status == PlanBlocked) && CanTransition(status, PlanPaused)
	case ActionResume:
		ok = status == PlanPaused && CanTransition(status, PlanActive)
	case ActionCancel:
		ok = CanTransition(status, PlanCanceled)
	case ActionChangePaymentMethod, ActionSkipNext:
		ok = !status.Terminal() && status.Valid() && status != PlanIncomplete
	default:
		return &Error{Kind: KindInvalid, Code: CodeInvalidTransition, Message: fmt.Sprintf("unknown plan action %q", action)}
	}
	if ok {
		return nil
	}
	return &Error{Kind: KindConflict, Code: CodeInvalidTransition,
		Message: fmt.Sprintf("cannot %s a plan that is %s", actionVerb(action), status)}
}

func actionVerb(a PlanAction) string {
	if a == ActionChangePaymentMethod {
		return "change the payment method of"
	}
	if a == ActionSkipNext {
		return "skip the next installment of"
	}
	return string(a)
}

// PaymentType says what a payment is to the card networks and to webhook consumers.
type PaymentType string

// Payment types.
const (
	// PaymentOneOff is a customer-initiated payment whose card is not kept.
	PaymentOneOff PaymentType = "one_off"
	// PaymentInitial is the customer-initiated payment that stores a card for later
	// merchant-initiated charges (save_card: true, or a plan's first charge when no
	// earlier initial payment exists).
	PaymentInitial PaymentType = "initial"
	// PaymentRecurring is a merchant-initiated installment of a plan.
	PaymentRecurring PaymentType = "recurring"
)

// CustomerPaymentType is the type of a customer-initiated payment: initial when it
// saves the card for later merchant-initiated charges, one_off otherwise.
func CustomerPaymentType(saveCard bool) PaymentType {
	if saveCard {
		return PaymentInitial
	}
	return PaymentOneOff
}

// IsRecurring reports whether the payment belongs to a stored-credential series.
func (t PaymentType) IsRecurring() bool { return t == PaymentInitial || t == PaymentRecurring }

// PlanEventType returns the event announcing that a plan entered status, and "" for
// statuses that emit none.
func PlanEventType(status PlanStatus) string {
	switch status {
	case PlanCompleted:
		return EventPlanCompleted
	case PlanCanceled:
		return EventPlanCanceled
	case PlanPastDue:
		return EventPlanPastDue
	case PlanActionRequired:
		return EventPlanActionRequired
	case PlanFailed:
		return EventPlanFailed
	case PlanIncompleteExpired:
		return EventPlanIncompleteExpired
	}
	return ""
}

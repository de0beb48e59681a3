package workflows

import (
	"encoding/json"
	"time"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Names of the plan workflow's messages. The workflow is registered as "Plan"; its id
// is the plan's id (plan_…), so there is at most one workflow per plan.
const (
	// SignalCancel cancels the plan (CancelRequest). Ignored once the plan is over.
	SignalCancel = "cancel"
	// SignalBlock stops charges while the card is blocked (PaymentMethodSignal).
	SignalBlock = "block"
	// SignalUnblock resumes charges after a block; the waiting installment, if already
	// due, is charged at once and later ones keep their dates (PaymentMethodSignal).
	SignalUnblock = "unblock"
	// SignalDetach says the card was deleted: the plan stops charging and waits for
	// change_payment_method or a cancel (PaymentMethodSignal).
	SignalDetach = "detach"

	// UpdatePause pauses the plan (PauseRequest → PlanState). Installments falling due
	// while it is paused are skipped.
	UpdatePause = "pause"
	// UpdateResume resumes a paused plan (ResumeRequest → PlanState).
	UpdateResume = "resume"
	// UpdateCancel cancels the plan and returns its final state (CancelRequest →
	// PlanState); unlike the cancel signal it is rejected on a finished plan.
	UpdateCancel = "cancel_plan"
	// UpdateChangePaymentMethod switches the card (ChangePaymentMethodRequest →
	// PlanState). A past_due or action_required plan becomes active and the waiting
	// installment is tried at once.
	UpdateChangePaymentMethod = "change_payment_method"
	// UpdateSkipNext skips the next installment not yet attempted (SkipNextRequest →
	// PlanState).
	UpdateSkipNext = "skip_next"
	// UpdateStartPlan gives an incomplete plan the card its customer gave on the
	// hosted page (activities.StartPlanRequest → PlanState with Start set). It answers
	// once the first installment's charge has an outcome: a failure leaves the plan
	// incomplete, waiting for another session.
	UpdateStartPlan = "start_plan"
	// UpdateCreated answers once the plan's row is in the store (→ PlanState): the API
	// sends it with the start (Update-With-Start), so creating a plan is one round trip
	// and the row is there when it answers. A row the store refuses fails it with the
	// store's reason; a continued run has its row already.
	UpdateCreated = "created"

	// UpdateChangePlan changes the plan's terms from its first open installment on
	// (ChangePlanRequest → PlanState): amounts, installments, expiry, merchant data,
	// validated against what the plan has charged (billing.PlanChange.Apply). The
	// main loop then writes the row and plan.updated (ChangePlanTerms).
	UpdateChangePlan = "change_plan"

	// QueryState returns the PlanState.
	QueryState = "state"
)

// ErrInvalidTransition is the ApplicationError type an update validator rejects with
// when the plan's status does not allow it; its details hold the billing error code
// (billing.CodeInvalidTransition or billing.CodeNothingToSkip). starter turns it back
// into a *billing.Error of KindConflict (409).
const ErrInvalidTransition = "invalid_transition"

// ErrInvalidArgument is the ApplicationError type of an update whose request itself
// is wrong (a payment method id that is not pm_…); starter makes it KindInvalid (400).
const ErrInvalidArgument = "invalid_argument"

// DefaultMaxRunEvents is the history length at which a plan workflow run continues as
// new: half of the 2,000 events no run may exceed, leaving room for the installment in
// progress and for signals arriving meanwhile.
const DefaultMaxRunEvents = 1000

// DefaultMaxRunCharges is how many charge attempts a plan workflow run makes before it
// continues as new (plan version 6). A paid installment writes 12 history events and a
// declined one with its notification about 30, so a run stays far below 2,000 events
// whatever the server reports; the server's history length (DefaultMaxRunEvents) and
// its continue-as-new suggestion end a run earlier when signals and updates pile up.
const DefaultMaxRunCharges = 50

// PlanInput starts a plan workflow, and carries its state across continue-as-new.
type PlanInput struct {
	PlanID          string       `json:"plan_id"`
	MerchantID      string       `json:"merchant_id"`
	Mode            billing.Mode `json:"mode"`
	CustomerID      string       `json:"customer_id"`
	PaymentMethodID string       `json:"payment_method_id"`
	// Provider is the payment method's provider, for the plan's row; charges use the
	// provider the payment method store names.
	Provider string `json:"provider"`
	Currency string `json:"currency"`
	// Type is ecom or moto, passed to providers as metadata.
	Type      string `json:"type,omitempty"`
	Reference string `json:"reference,omitempty"`
	// Timetable says when each installment is due and its amount (Schedule.Resolve).
	Timetable billing.Timetable `json:"timetable"`
	// Dunning is the resolved policy (DunningPolicy.Resolve); an empty outcome is
	// past_due.
	Dunning billing.DunningPolicy `json:"dunning"`
	// InitialNetworkTransactionID is the network id of the customer-initiated payment
	// the card was saved with (a payment the plan reuses). When empty, the plan's first
	// successful charge is that initial payment and its id is kept for the rest.
	InitialNetworkTransactionID string `json:"initial_network_transaction_id,omitempty"`
	InitialPaymentID            string `json:"initial_payment_id,omitempty"`
	// CredentialOnFile: the card's cardholder consent predates the plan (an imported
	// card), so even the first charge is merchant-initiated, referencing the card's
	// stored network transaction id. Absent from older inputs, which replay unchanged.
	CredentialOnFile bool `json:"credential_on_file,omitempty"`
	// AttemptLimit caps failed attempts per card; zero is billing.DefaultAttemptLimit.
	AttemptLimit billing.AttemptLimit `json:"attempt_limit,omitzero"`
	// MinDaysBetweenCharges keeps two successful charges of the plan at least that many
	// days (24 h each) apart, whatever dunning, catch-up or an unblock would do: an
	// attempt that would come sooner waits. Zero (and every input older than the
	// field) leaves charges on their dates.
	MinDaysBetweenCharges int `json:"min_days_between_charges,omitempty"`
	// CatchUp is how many overdue installments the plan charges at once (empty: all,
	// as every plan did before the field).
	CatchUp billing.CatchUp `json:"catch_up,omitempty"`
	// UpcomingNotice, when set, announces each installment this long before its due
	// time (payment.upcoming and the customer's notification). Inputs older than the
	// field have none, so their histories replay unchanged.
	UpcomingNotice time.Duration `json:"upcoming_notice,omitempty"`
	// MaxRunEvents overrides DefaultMaxRunEvents (tests use small values).
	MaxRunEvents int `json:"max_run_events,omitempty"`
	// MaxRunCharges overrides DefaultMaxRunCharges; a negative value continues as new
	// at the first chance (tests).
	MaxRunCharges int `json:"max_run_charges,omitempty"`
	// Hosted makes a plan created without a card: it starts incomplete and waits for
	// its customer's card from a hosted session (UpdateStartPlan) until ExpiresAt.
	Hosted *HostedPlan `json:"hosted,omitempty"`
	// Create holds what only the plan's row needs. The first run writes the row and
	// drops it.
	Create *PlanCreate `json:"create,omitempty"`
	// State is the state carried from the previous run; nil on the first run.
	State *PlanCarry `json:"state,omitempty"`
}

// HostedPlan is how long a plan created without a card waits for its customer.
type HostedPlan struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// PlanCreate is the part of a new plan's row the workflow itself does not use.
type PlanCreate struct {
	MerchantData json.RawMessage `json:"merchant_data,omitempty"`
	// Schedule is the schedule as the client sent it, shown back by the API.
	Schedule  json.RawMessage `json:"schedule,omitempty"`
	CreatedAt time.Time       `json:"created_at,omitzero"`
}

// PlanCarry is a plan's state between runs. Only the workflow reads it.
type PlanCarry struct {
	// Status is the plan's own status: active, past_due, action_required or terminal.
	// Paused, Blocked and Detached are kept apart because they are independent (a card
	// can be blocked while the plan is paused); PlanState.Status combines them.
	Status   billing.PlanStatus `json:"status"`
	Paused   bool               `json:"paused,omitempty"`
	PausedAt time.Time          `json:"paused_at,omitzero"`
	// PauseDefer: the current pause defers the installments falling due (they are
	// charged on resume) instead of skipping them. ResumeAt, when set, ends the pause
	// by itself at that instant.
	PauseDefer bool      `json:"pause_defer,omitempty"`
	ResumeAt   time.Time `json:"resume_at,omitzero"`
	// LastPaidAt is when the plan's last successful charge came back, the start of
	// MinDaysBetweenCharges.
	LastPaidAt time.Time `json:"last_paid_at,omitzero"`
	// TermsSeq counts the plan's term changes; PendingTerms is the latest, still to be
	// written to the row by the main loop.
	// RetryToldFor is the last installment whose first decline the customer was told
	// about (payment_retrying, version 10).
	RetryToldFor int `json:"retry_told_for,omitempty"`
	// UpcomingSent is the last installment announced as upcoming.
	UpcomingSent int                `json:"upcoming_sent,omitempty"`
	TermsSeq     int                `json:"terms_seq,omitempty"`
	PendingTerms *billing.PlanTerms `json:"pending_terms,omitempty"`
	Blocked      bool               `json:"blocked,omitempty"`
	Detached     bool               `json:"detached,omitempty"`

	PaymentMethodID      string `json:"payment_method_id"`
	NetworkTransactionID string `json:"network_transaction_id,omitempty"`
	// InitialDone: the stored-credential series has its customer-initiated payment, so
	// every charge is merchant-initiated.
	InitialDone bool `json:"initial_done,omitempty"`

	// Next is the installment being worked on; Attempt the number of the last attempt
	// made on it (its idempotency key's last part); Retries the dunning retries used.
	Next    int `json:"next"`
	Attempt int `json:"attempt,omitempty"`
	Retries int `json:"retries,omitempty"`
	// RetryAt is when Next is tried again after a failure (zero: at its due time).
	RetryAt time.Time `json:"retry_at,omitzero"`
	// NotBefore defers the next attempt while the card is over its attempt limit.
	NotBefore time.Time `json:"not_before,omitzero"`
	// PacedSlot is the send slot the provider account's pace reserved for the next
	// attempt (versionPacedCharges): the plan sleeps until then, then charges.
	PacedSlot time.Time `json:"paced_slot,omitzero"`
	// Unknown: the last attempt's outcome is unknown (the provider never answered), so
	// the next attempt reuses its idempotency key and can never charge twice.
	Unknown bool `json:"unknown,omitempty"`
	// UnknownCard is the card of that attempt when the plan has changed cards since
	// (versionResolveOldCard): the attempt is settled there before the new card is
	// charged.
	UnknownCard string `json:"unknown_card,omitempty"`
	// UnknownAuth and UnknownMOTO are what that attempt carried (a hosted start's 3-D
	// Secure result, the MOTO flag), so its lookup asks about the same charge.
	UnknownAuth *providers.Authentication `json:"unknown_auth,omitempty"`
	UnknownMOTO bool                      `json:"unknown_moto,omitempty"`

	Paid       int   `json:"paid"`
	PaidAmount int64 `json:"paid_amount"`
	Skipped    int   `json:"skipped,omitempty"`
	// SkipNext lists installments skip_next marked, ascending.
	SkipNext []int `json:"skip_next,omitempty"`
	// PauseWindows are past pauses still relevant: installments due inside one are
	// skipped.
	PauseWindows []TimeWindow `json:"pause_windows,omitempty"`
	// Failures are the recent failed attempts per card, for the attempt limit.
	Failures  []CardFailure `json:"failures,omitempty"`
	LastError *PlanError    `json:"last_error,omitempty"`
	// PendingNotify: the card was detached and the customer is still to be told.
	PendingNotify bool `json:"pending_notify,omitempty"`
	// CancelReason says why the plan was canceled.
	CancelReason string `json:"cancel_reason,omitempty"`
	// Starting: an incomplete plan got its card (UpdateStartPlan) and its first
	// charge has not come back yet; the plan counts as incomplete meanwhile. StartAuth
	// is the 3-D Secure result that charge carries, kept until its outcome is known (an
	// unknown one is retried with the same key and the same authentication) and
	// dropped with a new card.
	Starting  bool                      `json:"starting,omitempty"`
	StartAuth *providers.Authentication `json:"start_auth,omitempty"`
	// StartMOTO flags the first charge of a moto plan started on the page as a mail
	// or telephone order, kept like StartAuth for a retry under the same key.
	StartMOTO bool `json:"start_moto,omitempty"`
	// PendingSession is the session whose start_plan answered pending: when
	// installment 1 settles, the session gets the final outcome (SettleSession).
	PendingSession string `json:"pending_session,omitempty"`
	// RecoveryKey names the wait the last recovery page was opened for (installment,
	// attempt, card, status), so each wait opens one.
	RecoveryKey string `json:"recovery_key,omitempty"`

	// Seq numbers the plan's reports to the ledger.
	Seq int64 `json:"seq"`
	// Published is the last state reported to the ledger, so a new run reports only
	// changes.
	Published PublishedState `json:"published"`

	// Runs counts the runs so far; MaxRunEvents is the largest history length (or
	// estimate, where the length is unknown) a finished run reached.
	Runs         int `json:"runs"`
	MaxRunEvents int `json:"max_run_events,omitempty"`
	// LastRunEvents is the previous run's history length when it continued as new
	// (the larger of the server's count and the estimate); LastRunEstimate the
	// estimate alone, which tests compare with real histories.
	LastRunEvents   int `json:"last_run_events,omitempty"`
	LastRunEstimate int `json:"last_run_estimate,omitempty"`
}

// PublishedState is what the ledger and the search attributes last heard.
type PublishedState struct {
	Status          billing.PlanStatus `json:"status,omitempty"`
	NextChargeAt    time.Time          `json:"next_charge_at,omitzero"`
	PaymentMethodID string             `json:"payment_method_id,omitempty"`
}

// TimeWindow is a half-open span [From, To).
type TimeWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// CardFailure is one failed attempt on a card.
type CardFailure struct {
	PaymentMethodID string    `json:"payment_method_id"`
	At              time.Time `json:"at"`
}

// PlanError is the last failure of a plan's charges.
type PlanError struct {
	Installment int       `json:"installment"`
	Attempt     int       `json:"attempt"`
	Class       string    `json:"class"`
	Code        string    `json:"code"`
	Message     string    `json:"message,omitempty"`
	At          time.Time `json:"at"`
}

// PlanState is a plan's live state: the state query's answer and every update's result.
type PlanState struct {
	PlanID          string             `json:"plan_id"`
	Status          billing.PlanStatus `json:"status"`
	PaymentMethodID string             `json:"payment_method_id"`
	Paused          bool               `json:"paused,omitempty"`
	Blocked         bool               `json:"blocked,omitempty"`
	Detached        bool               `json:"detached,omitempty"`
	// PauseBehavior and ResumeAt describe the current pause.
	PauseBehavior billing.PauseBehavior `json:"pause_behavior,omitempty"`
	ResumeAt      time.Time             `json:"resume_at,omitzero"`
	// FirstOpen is the first installment neither charged, attempted nor being charged
	// (where a change_plan starts); Collecting says the one before it is attempted and
	// not settled.
	FirstOpen  int  `json:"first_open,omitempty"`
	Collecting bool `json:"collecting,omitempty"`
	// CatchUp and MinDaysBetweenCharges are the plan's charge policies.
	CatchUp               billing.CatchUp `json:"catch_up,omitempty"`
	MinDaysBetweenCharges int             `json:"min_days_between_charges,omitempty"`
	// NextInstallment is the installment waiting to be charged (0 when none is left),
	// due at NextDueAt; NextChargeAt is when it will be tried, absent while nothing is
	// charged (paused, blocked, past_due, action_required, finished).
	NextInstallment int       `json:"next_installment,omitempty"`
	NextDueAt       time.Time `json:"next_due_at,omitzero"`
	NextAmount      int64     `json:"next_amount,omitempty"`
	NextChargeAt    time.Time `json:"next_charge_at,omitzero"`
	// Attempts made on the waiting installment and dunning retries used.
	Attempts       int   `json:"attempts,omitempty"`
	DunningRetries int   `json:"dunning_retries,omitempty"`
	Paid           int   `json:"paid"`
	PaidAmount     int64 `json:"paid_amount"`
	Skipped        int   `json:"skipped"`
	// Remaining counts installments neither paid nor skipped; absent for an unlimited
	// plan.
	Remaining        *int       `json:"remaining,omitempty"`
	SkipInstallments []int      `json:"skip_installments,omitempty"`
	LastError        *PlanError `json:"last_error,omitempty"`
	CancelReason     string     `json:"cancel_reason,omitempty"`
	// IncompleteUntil is when an incomplete plan expires unless its customer completes
	// the hosted page.
	IncompleteUntil time.Time `json:"incomplete_until,omitzero"`
	// Start is how the start_plan update went; only its answer carries it.
	Start *activities.StartPlanResult `json:"start,omitempty"`
}

// PlanResult is what a finished plan workflow returns.
type PlanResult struct {
	Status     billing.PlanStatus `json:"status"`
	Paid       int                `json:"paid"`
	PaidAmount int64              `json:"paid_amount"`
	Skipped    int                `json:"skipped"`
	// Runs is how many runs the plan took; MaxRunEvents the longest run's history
	// length (an upper estimate where the length is unknown, as in tests).
	Runs         int `json:"runs"`
	MaxRunEvents int `json:"max_run_events"`
}

// CancelRequest is the cancel signal's and cancel_plan update's argument.
type CancelRequest struct {
	Reason string `json:"reason,omitempty"`
}

// PaymentMethodSignal is the argument of block, unblock and detach. When
// PaymentMethodID is set, the signal is ignored by a plan charging another card (it
// changed cards after the sender looked).
type PaymentMethodSignal struct {
	PaymentMethodID string `json:"payment_method_id,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// PauseRequest is the pause update's argument: skip (the default) or defer the
// installments falling due, and optionally when the pause ends by itself.
type PauseRequest struct {
	Behavior billing.PauseBehavior `json:"behavior,omitempty"`
	ResumeAt time.Time             `json:"resume_at,omitzero"`
}

// ResumeRequest is the resume update's argument.
type ResumeRequest struct{}

// SkipNextRequest is the skip_next update's argument.
type SkipNextRequest struct{}

// ChangePlanRequest is the change_plan update's argument. MerchantData, when set,
// replaces the plan's.
type ChangePlanRequest struct {
	Change       billing.PlanChange `json:"change"`
	MerchantData json.RawMessage    `json:"merchant_data,omitempty"`
}

// ChangePaymentMethodRequest is the change_payment_method update's argument.
type ChangePaymentMethodRequest struct {
	PaymentMethodID string `json:"payment_method_id"`
	// NetworkTransactionID is the new card's initial network transaction id, when the
	// API knows it; otherwise the payment method store's is used.
	NetworkTransactionID string `json:"network_transaction_id,omitempty"`
}

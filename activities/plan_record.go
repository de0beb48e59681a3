package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
)

// CreatePlanRequest is a plan's row as its workflow first writes it.
type CreatePlanRequest struct {
	PlanID           string                `json:"plan_id"`
	MerchantID       string                `json:"merchant_id"`
	Mode             billing.Mode          `json:"mode"`
	CustomerID       string                `json:"customer_id"`
	PaymentMethodID  string                `json:"payment_method_id"`
	Provider         string                `json:"provider"`
	Currency         string                `json:"currency"`
	Type             string                `json:"type"`
	Reference        string                `json:"reference,omitempty"`
	MerchantData     json.RawMessage       `json:"merchant_data,omitempty"`
	Schedule         json.RawMessage       `json:"schedule,omitempty"`
	Timetable        billing.Timetable     `json:"timetable"`
	Dunning          billing.DunningPolicy `json:"dunning"`
	InitialPaymentID string                `json:"initial_payment_id,omitempty"`
	Status           billing.PlanStatus    `json:"status"`
	NextChargeAt     time.Time             `json:"next_charge_at,omitzero"`
	CreatedAt        time.Time             `json:"created_at"`
}

// CreatePlan writes the plan's row unless it exists. The plan workflow runs it first,
// so the row exists exactly when the workflow does: the API only ever starts the
// workflow (idempotently, by its id plan_<id>), and a crash between the two steps
// leaves a workflow that retries this until the store takes it. A row the store can
// never take (a NUL byte in the reference, a value a constraint refuses) fails at
// once, non-retryably, and with it the plan workflow.
func (a *Activities) CreatePlan(ctx context.Context, req CreatePlanRequest) error {
	if a.deps.Ledger == nil {
		return errors.New("create plan: activities built without a ledger")
	}
	if err := checkStorable("create plan",
		field{"plan_id", req.PlanID}, field{"merchant_id", req.MerchantID}, field{"mode", string(req.Mode)},
		field{"customer_id", req.CustomerID}, field{"payment_method_id", req.PaymentMethodID},
		field{"provider", req.Provider}, field{"currency", req.Currency}, field{"type", req.Type},
		field{"reference", req.Reference}, field{"merchant_data", string(req.MerchantData)},
		field{"schedule", string(req.Schedule)}, field{"initial_payment_id", req.InitialPaymentID},
	); err != nil {
		return storeError(err)
	}
	tt, err := json.Marshal(req.Timetable)
	if err != nil {
		return fmt.Errorf("create plan: encode timetable: %w", err)
	}
	dunning, err := json.Marshal(req.Dunning)
	if err != nil {
		return fmt.Errorf("create plan: encode dunning: %w", err)
	}
	schedule := billing.JSONDoc(req.Schedule)
	if len(schedule) == 0 {
		schedule = billing.JSONDoc(tt)
	}
	p := billing.Plan{
		ID: req.PlanID, MerchantID: req.MerchantID, Mode: req.Mode, CustomerID: req.CustomerID,
		PaymentMethodID: req.PaymentMethodID, Provider: req.Provider, Currency: req.Currency, Type: req.Type,
		Reference: req.Reference, MerchantData: billing.JSONDoc(req.MerchantData), Schedule: schedule,
		Timetable: tt, Dunning: dunning, InitialPaymentID: req.InitialPaymentID, Status: req.Status,
		CreatedAt: req.CreatedAt,
	}
	if !req.NextChargeAt.IsZero() {
		p.NextChargeAt = &req.NextChargeAt
	}
	_, _, err = a.deps.Ledger.CreatePlan(ctx, p)
	return storeError(err)
}

// CreatePlan runs Activities.CreatePlan from a workflow.
func CreatePlan(ctx workflow.Context, req CreatePlanRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.CreatePlan, req).Get(ctx, nil)
}

// CreatePlanLocal runs Activities.CreatePlan as a local activity: in the worker that
// runs the workflow task, without a round trip through the server, so a plan created
// through the API answers once that task is done. It retries as a ledger write does
// (LedgerMaxAttempts, about a day; the SDK backs off with timers past the task).
func CreatePlanLocal(ctx workflow.Context, req CreatePlanRequest) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 48 * time.Hour, // the attempts bound it, as for ledgerOptions
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: LedgerMaxAttempts},
	})
	// By its registered name: the marker the history keeps names it, stably.
	return workflow.ExecuteLocalActivity(ctx, "CreatePlan", req).Get(ctx, nil)
}

// UpdatePlanRequest is a plan workflow's report of its state, and the event announcing
// it when EventType is set.
type UpdatePlanRequest struct {
	PlanID          string             `json:"plan_id"`
	MerchantID      string             `json:"merchant_id"`
	Mode            billing.Mode       `json:"mode"`
	Seq             int64              `json:"seq"`
	Status          billing.PlanStatus `json:"status"`
	NextChargeAt    time.Time          `json:"next_charge_at,omitzero"`
	PaymentMethodID string             `json:"payment_method_id,omitempty"`
	EventType       string             `json:"event_type,omitempty"`
	// EventData is the event's data object (the plan's state), encoded by the
	// activity so workflow code needs no JSON encoder.
	EventData any `json:"event_data,omitempty"`
}

// UpdatePlan records the plan's state and appends its event, idempotently: the event's
// key is the plan id with the update's sequence number.
func (a *Activities) UpdatePlan(ctx context.Context, req UpdatePlanRequest) error {
	if a.deps.Ledger == nil {
		return errors.New("update plan: activities built without a ledger")
	}
	u := billing.PlanUpdate{PlanID: req.PlanID, Seq: req.Seq, Status: req.Status, PaymentMethodID: req.PaymentMethodID}
	if !req.NextChargeAt.IsZero() {
		u.NextChargeAt = &req.NextChargeAt
	}
	if req.EventType != "" {
		data, err := json.Marshal(req.EventData)
		if err != nil {
			return fmt.Errorf("update plan: encode event data: %w", err)
		}
		u.Event = &billing.Event{
			MerchantID: req.MerchantID, Mode: req.Mode, Type: req.EventType, Data: data,
			IdempotencyKey: fmt.Sprintf("%s/state/%d/%s", req.PlanID, req.Seq, req.EventType),
		}
	}
	return storeError(a.deps.Ledger.UpdatePlanState(ctx, u))
}

// UpdatePlan runs Activities.UpdatePlan from a workflow.
func UpdatePlan(ctx workflow.Context, req UpdatePlanRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.UpdatePlan, req).Get(ctx, nil)
}

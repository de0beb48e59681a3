package api

import (
	"context"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// CreateRefund implements POST /v1/refunds. The request is checked against the
// payment first, for a clear error naming the field; the refund's workflow checks
// again when it reserves the amount, in the transaction that writes the refund, so two
// refunds racing for the rest of a payment cannot both be written.
func (s *server) CreateRefund(ctx context.Context, req CreateRefundRequestObject) (CreateRefundResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	p, err := s.store.GetPayment(ctx, caller, b.Payment)
	if err != nil {
		return nil, withParam(err, "payment")
	}
	in := workflows.RefundInput{Refund: billing.NewRefund{
		ID: derivedID(billing.PrefixRefund, caller, deref(req.Params.IdempotencyKey)), MerchantID: caller.MerchantID,
		Mode: caller.Mode, PaymentID: p.ID, Amount: derefOr(b.Amount, 0), Currency: deref(b.Currency),
		Reason: string(derefOr(b.Reason, "")),
	}}
	// A retry of a refund already written (the same Idempotency-Key after a lost or
	// late answer) joins it; only a new refund is checked against what is left.
	if _, err := s.store.GetRefund(ctx, caller, in.Refund.ID); billing.KindOf(err) == billing.KindNotFound {
		reserved, err := s.store.ReservedRefunds(ctx, caller, p.ID)
		if err != nil {
			return nil, err
		}
		if _, err := billing.Refundable(p, reserved, derefOr(b.Amount, 0), deref(b.Currency)); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	// After the wait the refund is answered as it stands (pending, its amount
	// reserved) and finishes in its workflow. The wait is a timer of its own: the
	// SDK's long poll for the result does not always end at its context's deadline.
	run, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		res workflows.RefundResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := starter.RunRefund(run, c, in)
		done <- outcome{res, err}
	}()
	timer := time.NewTimer(s.refundWait)
	defer timer.Stop()
	select {
	case o := <-done:
		switch {
		case o.err != nil:
			return nil, o.err
		case o.res.Rejected != nil:
			return nil, o.res.Rejected.Err()
		}
		return CreateRefund201JSONResponse(refundOut(o.res.Refund)), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
	}
	// The provider has not answered yet: the refund as the ledger holds it.
	r, err := s.store.GetRefund(ctx, caller, in.Refund.ID)
	if err != nil {
		return nil, &billing.Error{Kind: billing.KindUnavailable, Code: billing.CodeTemporalUnavailable,
			Message: "the refund was started but not recorded in time; retry with the same Idempotency-Key to see it"}
	}
	return CreateRefund201JSONResponse(refundOut(r)), nil
}

// GetRefund implements GET /v1/refunds/{id}.
func (s *server) GetRefund(ctx context.Context, req GetRefundRequestObject) (GetRefundResponseObject, error) {
	r, err := s.store.GetRefund(ctx, callerFrom(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return GetRefund200JSONResponse(refundOut(r)), nil
}

// ListRefunds implements GET /v1/refunds.
func (s *server) ListRefunds(ctx context.Context, req ListRefundsRequestObject) (ListRefundsResponseObject, error) {
	page, err := s.store.ListRefunds(ctx, callerFrom(ctx), deref(req.Params.Payment), billing.ListParams{
		Limit: deref(req.Params.Limit), StartingAfter: deref(req.Params.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListRefunds200JSONResponse{Object: RefundListObjectList, Data: []Refund{}, HasMore: page.HasMore}
	for _, r := range page.Items {
		out.Data = append(out.Data, refundOut(r))
	}
	return out, nil
}

// ListPayments implements GET /v1/payments: payments across plans.
func (s *server) ListPayments(ctx context.Context, req ListPaymentsRequestObject) (ListPaymentsResponseObject, error) {
	q := req.Params
	f := billing.PaymentFilter{CustomerID: deref(q.Customer), PlanID: deref(q.Plan),
		Status: billing.PaymentStatus(derefOr(q.Status, "")), CreatedGte: q.CreatedGte, CreatedLt: q.CreatedLt}
	if f.CreatedGte != nil && f.CreatedLt != nil && !f.CreatedLt.After(*f.CreatedGte) {
		return nil, billing.Invalid("created[lt]", billing.CodeInvalidValue, "created[lt] must be after created[gte]")
	}
	page, err := s.store.ListPayments(ctx, callerFrom(ctx), f, billing.ListParams{
		Limit: deref(q.Limit), StartingAfter: deref(q.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListPayments200JSONResponse{Object: PaymentListObjectList, Data: []Payment{}, HasMore: page.HasMore}
	for _, p := range page.Items {
		out.Data = append(out.Data, paymentOut(p))
	}
	return out, nil
}

// refundOut renders a refund as its events carry it (rest.RefundObject).
func refundOut(r billing.Refund) Refund { return fromREST[Refund](rest.RefundObject(r)) }

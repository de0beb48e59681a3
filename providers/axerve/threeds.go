package axerve

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// 3-D Secure on Axerve runs inside the first payment: a submit the issuer wants
// authenticated answers an empty transactionResult, code 8006 and a redirect to the
// issuer's page (userRedirect.href); Axerve then sends the payer to the submit's
// responseURLs (buyerOK or buyerKO), and the payment's outcome is what payment/detail
// says. The payment is made as it authenticates, so for this adapter:
//   - BeginAuthentication creates and submits the customer-initiated first payment
//     (03F) with responseURLs pointing at the engine's callback, whose query names the
//     session and the paymentID under a MAC keyed by the account's API key (Axerve's
//     redirect is not signed); a redirect is a challenge, an approval is a payment
//     already made;
//   - VerifyCallback checks that MAC and its age and names the session; what Axerve
//     appends to the URL is ignored;
//   - CompleteAuthentication and the charge read payment/detail by paymentID: the
//     charge never pays again, it answers the payment 3-D Secure made;
//   - CancelAuthentication cancels that payment (payment/cancel) when nothing records
//     it as the charge.
//
// A card change (Setup) charges nothing, and Axerve authenticates only with a payment:
// it answers "unavailable".
//
// PayPal (AuthenticationRequest.Method) runs the same way: the first payment is created
// with paymentType PAYPAL and submitted without an agreement token; its userRedirect is
// PayPal's approval page, the challenge. Once the payer approved, payment/detail names
// the billing agreement Axerve created (its token field), which CompleteAuthentication
// returns as MethodToken for the engine to keep; the token Axerve appends to the
// payer's return URL (methodToken) is unsigned and not used.
var (
	_ providers.Authenticator          = (*Provider)(nil)
	_ providers.AuthenticationCanceler = (*Provider)(nil)
	_ providers.CallbackVerifier       = (*Provider)(nil)
)

// maxReturnAge bounds how long after the begin the payer's return is taken.
const maxReturnAge = time.Hour

var paymentIDChars = regexp.MustCompile(`^[0-9]{1,30}$`)

// paymentOf is the Axerve payment a succeeded authentication of this adapter made, or "".
func paymentOf(req providers.ChargeRequest) string {
	if a := req.Authentication; a != nil && a.Status == providers.AuthenticationSucceeded && paymentIDChars.MatchString(a.ID) {
		return a.ID
	}
	return ""
}

func (p *Provider) returnMAC(fields ...string) string {
	key := sha256.Sum256([]byte("axerve-return\x00" + p.cfg.ShopLogin + "\x00" + p.cfg.APIKey))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(strings.Join(fields, "\x00")))
	return hex.EncodeToString(m.Sum(nil))
}

// BeginAuthentication makes the first payment with 3-D Secure; see the file comment.
func (p *Provider) BeginAuthentication(ctx context.Context, req providers.AuthenticationRequest) (providers.Authentication, error) {
	paypal := req.Method == providers.MethodPayPal
	if paypal && (req.ReturnURL == "" || req.Setup) {
		// No payment, or nowhere to come back to: no agreement can be approved.
		return providers.Authentication{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeInvalidRequest, Param: "type", Err: providers.ErrNotSupported,
			Message: "a PayPal agreement is approved with a first payment, through the engine's public URL"}
	}
	if req.ReturnURL == "" || req.Setup {
		return providers.Authentication{Status: providers.AuthenticationUnavailable}, nil
	}
	check := providers.ChargeRequest{Token: req.Token, Amount: req.Amount, Currency: req.Currency,
		IdempotencyKey: req.IdempotencyKey, Initiator: providers.InitiatorCustomer, Method: req.Method}
	if paypal {
		check.Token = "-" // the approval creates the agreement
	}
	if err := check.Validate(); err != nil {
		return providers.Authentication{}, own(err)
	}
	amount, err := decimal(req.Amount, req.Currency)
	if err != nil {
		return providers.Authentication{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeAmountNotSupported, Param: "amount", Message: err.Error(), Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	id := ShopTransactionID(req.IdempotencyKey)
	create := map[string]any{"shopLogin": p.cfg.ShopLogin, "amount": amount, "currency": req.Currency, "shopTransactionID": id,
		"paymentType": []string{"CREDITCARD"}, "transDetails": map[string]any{"type": "03F"}}
	if paypal {
		create["paymentType"] = []string{"PAYPAL"}
		delete(create, "transDetails")
	}
	if strings.Contains(req.CustomerRef, "@") {
		create["buyerEmail"] = req.CustomerRef
	}
	var created struct {
		PaymentToken string `json:"paymentToken"`
		PaymentID    string `json:"paymentID"`
	}
	if err := p.call(ctx, http.MethodPost, "/payment/create/", nil, create, &created, id); err != nil {
		if e, ok := providers.AsError(err); ok && duplicate(e) {
			return p.retriedBegin(ctx, id, req)
		}
		return providers.Authentication{}, err
	}
	if !paymentIDChars.MatchString(created.PaymentID) || created.PaymentToken == "" {
		return providers.Authentication{}, unknown(id, "payment/create answered no usable paymentID or paymentToken")
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	q := url.Values{"s": {req.Session.SessionID}, "m": {req.Session.MerchantID}, "mode": {string(req.Session.Mode)},
		"pid": {created.PaymentID}, "ts": {ts}}
	q.Set("sig", p.returnMAC(q.Get("m"), q.Get("mode"), q.Get("s"), q.Get("pid"), ts))
	ret, err := url.Parse(req.ReturnURL)
	if err != nil {
		return providers.Authentication{}, fmt.Errorf("axerve: return URL: %w", err)
	}
	merged := ret.Query()
	for k, v := range q {
		merged[k] = v
	}
	ret.RawQuery = merged.Encode()
	back := ret.String()
	submit := map[string]any{"shopLogin": p.cfg.ShopLogin, "paymentType": "CREDITCARD",
		"paymentTypeDetails": map[string]any{"creditcard": map[string]string{"token": req.Token}},
		"responseURLs":       map[string]string{"buyerOK": back, "buyerKO": back}}
	if paypal {
		submit["paymentType"] = "PAYPAL"
		delete(submit, "paymentTypeDetails")
	}
	var res struct {
		submitPayload
		UserRedirect struct {
			Href string `json:"href"`
		} `json:"userRedirect"`
	}
	if err := p.call(ctx, http.MethodPost, "/payment/submit/", map[string]string{"paymentToken": created.PaymentToken}, submit, &res, id); err != nil {
		if e, ok := providers.AsError(err); ok && duplicate(e) {
			return p.retriedBegin(ctx, id, req)
		}
		return providers.Authentication{}, err
	}
	if res.TransactionResult == "KO" && duplicateCode(res.TransactionErrorCode) {
		return p.retriedBegin(ctx, id, req)
	}
	switch {
	case res.ShopTransactionID != id:
		return providers.Authentication{}, unknown(id, "the answer names another transaction")
	case res.TransactionResult == "OK" && paypal:
		// Paid without a redirect: the agreement is read back like an approval's.
		a, err := p.authenticationOf(ctx, "paymentID", created.PaymentID, req.Amount, req.Currency)
		return p.agreement(ctx, req.Method, a, err)
	case res.TransactionResult == "OK":
		return providers.Authentication{ID: created.PaymentID, Status: providers.AuthenticationSucceeded}, nil
	case res.TransactionResult == "" && (res.TransactionErrorCode == "8006" || paypal) && res.UserRedirect.Href != "":
		return providers.Authentication{ID: created.PaymentID, Status: providers.AuthenticationChallenge, ChallengeURL: res.UserRedirect.Href}, nil
	case res.TransactionResult == "KO":
		return providers.Authentication{}, failure(res.TransactionErrorCode, res.TransactionErrorDescription, created.PaymentID)
	}
	return providers.Authentication{}, unknown(id, "payment/submit answered transactionResult "+strconv.Quote(res.TransactionResult))
}

// CompleteAuthentication reads the payment 3-D Secure was for: approved is
// succeeded, declined or never submitted failed, anything else not known yet.
func (p *Provider) CompleteAuthentication(ctx context.Context, req providers.CompleteAuthenticationRequest) (providers.Authentication, error) {
	if !paymentIDChars.MatchString(req.ID) {
		return providers.Authentication{ID: req.ID, Status: providers.AuthenticationFailed}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	a, err := p.authenticationOf(ctx, "paymentID", req.ID, req.Amount, req.Currency)
	return p.agreement(ctx, req.Method, a, err)
}

// agreement finishes a succeeded authentication of method: a PayPal payment keeps
// the agreement it created (MethodToken), or, paid without one (nothing to charge
// later), is canceled and fails; a card's carries no token.
func (p *Provider) agreement(ctx context.Context, method string, a providers.Authentication, err error) (providers.Authentication, error) {
	if err != nil || a.Status != providers.AuthenticationSucceeded || method != providers.MethodPayPal {
		a.MethodToken = ""
		return a, err
	}
	if a.MethodToken == "" {
		if err := p.CancelAuthentication(ctx, a.ID); err != nil {
			return providers.Authentication{}, err
		}
		return providers.Authentication{ID: a.ID, Status: providers.AuthenticationFailed}, nil
	}
	return a, nil
}

// retriedBegin answers a begin whose key Axerve already has (the first answer was
// lost): that payment's state. One still on the issuer's page cannot be resumed (its
// redirect is not known here): it is canceled if it can be, and this page's payment
// fails.
func (p *Provider) retriedBegin(ctx context.Context, id string, req providers.AuthenticationRequest) (providers.Authentication, error) {
	a, err := p.authenticationOf(ctx, "shopTransactionID", id, req.Amount, req.Currency)
	var waiting *waitingError
	if errors.As(err, &waiting) {
		_ = p.CancelAuthentication(ctx, waiting.paymentID)
		return providers.Authentication{ID: waiting.paymentID, Status: providers.AuthenticationFailed}, nil
	}
	return p.agreement(ctx, req.Method, a, err)
}

// waitingError: the payment waits on the issuer's page; nothing can be told yet.
type waitingError struct {
	err       *providers.Error
	paymentID string
}

func (w *waitingError) Error() string { return w.err.Error() }
func (w *waitingError) Unwrap() error { return w.err }

// paidState reads a detail answer: paid (approved and not canceled), or not.
func paidState(d detailPayload) bool {
	return (d.TransactionResult == "OK" || d.TransactionResult == "APPROVED") && d.TransactionState != "CAN"
}

func (p *Provider) authenticationOf(ctx context.Context, field, value string, amount int64, currency string) (providers.Authentication, error) {
	d, err := p.detail(ctx, field, value)
	if err != nil {
		return providers.Authentication{}, err
	}
	named := d.PaymentID
	if field == "shopTransactionID" {
		named = d.ShopTransactionID
	}
	if !paymentIDChars.MatchString(d.PaymentID) || named != value {
		return providers.Authentication{}, unknown(value, "payment/detail named another payment")
	}
	switch {
	case paidState(d):
		cur := d.Currency
		if cur == "" {
			cur = currency
		}
		if paid, ok := d.authorized(cur); ok && cur == currency && (amount == 0 || paid == amount) {
			return providers.Authentication{ID: d.PaymentID, Status: providers.AuthenticationSucceeded, MethodToken: d.Token}, nil
		}
		// Paid, but not this amount: nothing may record it; cancel it.
		if err := p.CancelAuthentication(ctx, d.PaymentID); err != nil {
			return providers.Authentication{}, err
		}
		return providers.Authentication{ID: d.PaymentID, Status: providers.AuthenticationFailed}, nil
	case d.TransactionResult == "KO" || d.TransactionResult == "DECLINED" || d.TransactionResult == "UNSUBMITTED" ||
		d.TransactionState == "CAN":
		// Declined, never submitted, or canceled: nothing is taken.
		return providers.Authentication{ID: d.PaymentID, Status: providers.AuthenticationFailed}, nil
	case d.TransactionResult == "WAITING":
		// The payer is (or was) on the issuer's page and may still pay: not failed.
		return providers.Authentication{}, &waitingError{err: unknown(d.PaymentID, "the payment still waits on the 3-D Secure page"), paymentID: d.PaymentID}
	}
	return providers.Authentication{}, unknown(d.PaymentID, "Axerve cannot tell the payment's outcome yet ("+d.TransactionResult+")")
}

// paid answers a charge carrying a 3-D Secure payment: that payment, read back.
func (p *Provider) paid(ctx context.Context, req providers.ChargeRequest, paymentID string) (providers.ChargeResult, error) {
	d, err := p.detail(ctx, "paymentID", paymentID)
	if err != nil {
		return providers.ChargeResult{}, err
	}
	if d.PaymentID != paymentID {
		return providers.ChargeResult{}, unknown(paymentID, "payment/detail named another payment")
	}
	switch {
	case d.TransactionState == "CAN":
		return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassSoftDecline,
			Code: billing.CodeCardDeclined, ChargeID: paymentID, Message: "the 3-D Secure payment was canceled at Axerve"})
	case paidState(d):
		cur := d.Currency
		if cur == "" {
			cur = req.Currency
		}
		paidAmount, ok := d.authorized(cur)
		if !ok {
			return providers.ChargeResult{}, unknown(paymentID, "the 3-D Secure payment's amount cannot be read")
		}
		if cur != req.Currency || paidAmount != req.Amount {
			return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
				Code: billing.CodeIdempotencyConflict, ChargeID: paymentID,
				Message: fmt.Sprintf("the 3-D Secure payment was for %d %s, not %d %s", paidAmount, cur, req.Amount, req.Currency)})
		}
		return providers.ChargeResult{ID: paymentID, Status: providers.ChargeSucceeded, Amount: req.Amount, Currency: req.Currency,
			NetworkTransactionID: paymentID}, nil
	case d.TransactionResult == "KO" || d.TransactionResult == "DECLINED":
		return providers.ChargeResult{}, providers.Found(failure(d.TransactionErrorCode, d.TransactionErrorDescription, paymentID))
	}
	return providers.ChargeResult{}, unknown(paymentID, "Axerve cannot tell the 3-D Secure payment's outcome yet ("+d.TransactionResult+")")
}

// CancelAuthentication cancels a 3-D Secure payment nothing records as a charge.
func (p *Provider) CancelAuthentication(ctx context.Context, id string) error {
	if !paymentIDChars.MatchString(id) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var out submitPayload
	if err := p.call(ctx, http.MethodPost, "/payment/cancel/", nil, map[string]string{"shopLogin": p.cfg.ShopLogin, "paymentID": id,
		"cancelReason": "3-D Secure payment not used"}, &out, id); err != nil {
		return err
	}
	if out.TransactionResult == "OK" {
		return nil
	}
	d, err := p.detail(ctx, "paymentID", id)
	if err != nil {
		return err
	}
	switch {
	case d.TransactionResult == "WAITING":
		return unknown(id, "the payment still waits on the 3-D Secure page; it cannot be canceled yet")
	case !paidState(d):
		return nil // declined, canceled before, or never paid: nothing taken
	}
	// Settled already (cancel refused): refund what it took.
	cur := d.Currency
	paidAmount, ok := d.authorized(cur)
	amount, err := decimal(paidAmount, cur)
	if !ok || err != nil {
		return unknown(id, "Axerve did not cancel the payment and its amount cannot be read to refund it")
	}
	var ref submitPayload
	if err := p.call(ctx, http.MethodPost, "/payment/refund/", nil, map[string]string{"shopLogin": p.cfg.ShopLogin, "paymentID": id,
		"amount": amount, "currency": cur, "refundReason": "3-D Secure payment not used"}, &ref, id); err != nil {
		return err
	}
	if ref.TransactionResult != "OK" {
		return unknown(id, "Axerve neither canceled nor refunded the payment ("+ref.TransactionErrorCode+")")
	}
	return nil
}

// VerifyCallback checks the payer's return from Axerve: the MAC over the session and
// payment the begin wrote into the URL, at most an hour old.
func (p *Provider) VerifyCallback(_ context.Context, form url.Values, now time.Time) (providers.Callback, error) {
	get := func(k string) string {
		if v := form[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	want := p.returnMAC(get("m"), get("mode"), get("s"), get("pid"), get("ts"))
	if get("sig") == "" || !hmac.Equal([]byte(get("sig")), []byte(want)) {
		return providers.Callback{}, providers.ErrCallbackSignature
	}
	ts, err := strconv.ParseInt(get("ts"), 10, 64)
	if err != nil {
		return providers.Callback{}, errors.Join(providers.ErrCallbackStale, err)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxReturnAge || d < -providers.CallbackWindow {
		return providers.Callback{}, providers.ErrCallbackStale
	}
	return providers.Callback{MerchantID: get("m"), Mode: billing.Mode(get("mode")), SessionID: get("s"),
		AuthenticationID: get("pid"), Answer: "return"}, nil
}

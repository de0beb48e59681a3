package simulator

// What the simulator remembers per idempotency key: in memory, and across processes in a Journal.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Journal persists what a real provider remembers across our restarts: the final answer
// to each idempotency key, including the charge it made. Records are opaque JSON, so
// any store can keep them without importing this package.
type Journal interface {
	// LookupCharge returns the record stored under key, if any.
	LookupCharge(ctx context.Context, key string) (record []byte, ok bool, err error)
	// SaveCharge stores record under key unless the key already has one, and returns
	// whichever record the key holds afterwards.
	SaveCharge(ctx context.Context, key string, record []byte) (stored []byte, err error)
}

// journalRecord is one key's answer as the journal keeps it.
type journalRecord struct {
	Request string                 `json:"request"`
	Result  providers.ChargeResult `json:"result"`
	Error   *journalError          `json:"error,omitempty"`
	Entry   *LedgerEntry           `json:"entry,omitempty"`
}

// journalError is a decline as the journal keeps it; the cause is not kept.
type journalError struct {
	Class       providers.Class `json:"class"`
	Code        string          `json:"code"`
	Message     string          `json:"message"`
	DeclineCode string          `json:"decline_code,omitempty"`
	NetworkCode string          `json:"network_code,omitempty"`
	AdviceCode  string          `json:"advice_code,omitempty"`
	ChargeID    string          `json:"charge_id,omitempty"`
	RetryAfter  time.Duration   `json:"retry_after,omitempty"`
}

// attempt is a charge idempotency key's first use, as this process remembers it.
type attempt struct {
	request string // what the key was first used for
	done    chan struct{}
	res     providers.ChargeResult
	err     error
}

// refundAttempt is a refund idempotency key's answer, as this process remembers it.
type refundAttempt struct {
	request string
	res     providers.RefundResult
	err     error
}

// answer returns the key's journaled answer if another process gave one, and otherwise
// runs the charge and journals its answer. The journal write is the commit point: a
// charge whose answer could not be journaled did not happen. entry is the ledger entry
// of a charge made here, if any.
func (s *Simulator) answer(ctx context.Context, req providers.ChargeRequest, fp string) (providers.ChargeResult, bool, *LedgerEntry, error) {
	if s.journal != nil {
		raw, ok, err := s.journal.LookupCharge(ctx, req.IdempotencyKey)
		if err != nil {
			return providers.ChargeResult{}, false, nil, providers.TransportError(s.name, fmt.Errorf("simulator journal: %w", err))
		}
		if ok {
			res, err := s.replay(raw, fp)
			return res, true, nil, err
		}
	}
	res, keep, entry, err := s.charge(ctx, req)
	if !keep || s.journal == nil {
		return res, keep, entry, err
	}
	rec := journalRecord{Request: fp, Result: res, Entry: entry}
	var pe *providers.Error
	if errors.As(err, &pe) {
		rec.Error = &journalError{Class: pe.Class, Code: pe.Code, Message: pe.Message, DeclineCode: pe.DeclineCode,
			NetworkCode: pe.NetworkCode, AdviceCode: pe.AdviceCode, ChargeID: pe.ChargeID, RetryAfter: pe.RetryAfter}
	}
	raw, _ := json.Marshal(rec)
	stored, jerr := s.journal.SaveCharge(ctx, req.IdempotencyKey, raw)
	if jerr != nil {
		return providers.ChargeResult{}, false, nil, providers.TransportError(s.name, fmt.Errorf("simulator journal: %w", jerr))
	}
	if string(stored) != string(raw) {
		// Another process answered the key first; its answer stands.
		res, err := s.replay(stored, fp)
		return res, true, nil, err
	}
	return res, true, entry, err
}

// replay returns a journaled answer.
func (s *Simulator) replay(raw []byte, fp string) (providers.ChargeResult, error) {
	var rec journalRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return providers.ChargeResult{}, providers.TransportError(s.name, fmt.Errorf("simulator journal record: %w", err))
	}
	if rec.Request != fp {
		return providers.ChargeResult{}, s.fail(billing.CodeIdempotencyConflict,
			"this idempotency key was used for a different charge")
	}
	if e := rec.Error; e != nil {
		return providers.ChargeResult{}, &providers.Error{Class: e.Class, Code: e.Code, Message: e.Message, Provider: s.name,
			DeclineCode: e.DeclineCode, NetworkCode: e.NetworkCode, AdviceCode: e.AdviceCode, ChargeID: e.ChargeID, RetryAfter: e.RetryAfter}
	}
	return rec.Result, nil
}

var _ providers.ChargeFinder = (*Simulator)(nil)

// FindCharge answers what became of the charge made under req's idempotency key: the
// journal's record (any process), else this process's, else ErrNoSuchCharge. A charge
// that failed transiently left nothing, as at a real provider, so it is not found.
func (s *Simulator) FindCharge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.ValidateLookup(); err != nil {
		return providers.ChargeResult{}, s.own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// matches: the key was used for this charge. Without a token (the card is gone)
	// the rest of the charge must match.
	rest := fmt.Sprintf("%d|%s|%s", req.Amount, req.Currency, req.Initiator)
	matches := func(recorded string) bool {
		if req.Token == "" {
			_, r, _ := strings.Cut(recorded, "|")
			return r == rest
		}
		return recorded == req.Token+"|"+rest
	}
	conflict := providers.Found(s.fail(billing.CodeIdempotencyConflict, "this idempotency key was used for a different charge"))
	if s.journal != nil {
		raw, ok, err := s.journal.LookupCharge(ctx, req.IdempotencyKey)
		if err != nil {
			return providers.ChargeResult{}, providers.TransportError(s.name, fmt.Errorf("simulator journal: %w", err))
		}
		if ok {
			var rec journalRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return providers.ChargeResult{}, providers.TransportError(s.name, fmt.Errorf("simulator journal record: %w", err))
			}
			if !matches(rec.Request) {
				return providers.ChargeResult{}, conflict
			}
			return found(s.replay(raw, rec.Request))
		}
	}
	s.mu.Lock()
	a, ok := s.charges[req.IdempotencyKey]
	s.mu.Unlock()
	if !ok {
		return providers.ChargeResult{}, fmt.Errorf("simulator: %w", providers.ErrNoSuchCharge)
	}
	if !matches(a.request) {
		return providers.ChargeResult{}, conflict
	}
	select {
	case <-a.done:
	case <-ctx.Done():
		return providers.ChargeResult{}, providers.TransportError(s.name, ctx.Err())
	}
	s.mu.Lock()
	cur, kept := s.charges[req.IdempotencyKey]
	s.mu.Unlock()
	switch {
	case !kept:
		// The attempt in flight failed transiently: nothing was charged.
		return providers.ChargeResult{}, fmt.Errorf("simulator: %w", providers.ErrNoSuchCharge)
	case cur != a:
		return providers.ChargeResult{}, providers.TransportError(s.name, errors.New("a charge under this key is in progress"))
	}
	return found(a.res, a.err)
}

// found marks a kept failure as the charge's outcome (providers.Found); a transient
// one (an unreadable journal record) is not an outcome.
func found(res providers.ChargeResult, err error) (providers.ChargeResult, error) {
	if e, ok := providers.AsError(err); ok && !e.Retryable() {
		return res, providers.Found(e)
	}
	return res, err
}

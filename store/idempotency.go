package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/recurring/recurring/billing"
)

// IdempotencyTTL is how long a key and its response are kept; afterwards the key may be
// used again for anything.
const IdempotencyTTL = 24 * time.Hour

// Error codes of Idempotency-Key.
const (
	// CodeIdempotencyKeyReused: the key was used for a different request (method, path
	// or body) in the last 24 hours.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeIdempotencyKeyInUse: a request with this key is executing right now; retry
	// once it has finished to get its response.
	CodeIdempotencyKeyInUse = "idempotency_key_in_use"
)

// IdempotencyClaim is the outcome of claiming a key. Either Replayed is set and Status
// and Response are the stored answer, or the caller owns the key and must end the claim
// with CompleteIdempotencyKey or ReleaseIdempotencyKey.
type IdempotencyClaim struct {
	Replayed bool
	Status   int
	Response []byte

	key   string
	claim int64
}

type idempotencyRow struct {
	RequestMAC    []byte        `db:"request_mac"`
	MACKeyID      string        `db:"mac_key_id"`
	Status        sql.NullInt64 `db:"status"`
	Response      []byte        `db:"response"`
	Claim         int64         `db:"claim"`
	LockedUntilMS sql.NullInt64 `db:"locked_until_ms"`
	CreatedAtMS   int64         `db:"created_at_ms"`
}

// ClaimIdempotencyKey claims key for one request of the caller, identified by request
// (method, path and canonical body). The claim is an INSERT on the key's primary key,
// so of concurrent requests exactly one wins; the others get idempotency_key_in_use
// until the winner stores its response, then a replay. A different request under a key
// still held gets idempotency_key_reused. lease bounds how long a claim without a
// response blocks the key: after it (the holder crashed) the next request takes over.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, caller Caller, key string, request []byte, lease time.Duration) (IdempotencyClaim, error) {
	kr, err := db.keyring()
	if err != nil {
		return IdempotencyClaim{}, err
	}
	// A takeover that loses a race to another request reads the row again.
	for range 3 {
		now := db.now().UnixMilli()
		kid, mac := kr.MAC(request)
		res, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO idempotency_keys (merchant_id, mode, idem_key,
			request_mac, mac_key_id, claim, locked_until_ms, created_at_ms) VALUES (?, ?, ?, ?, ?, 1, ?, ?)
			ON CONFLICT DO NOTHING`), caller.MerchantID, caller.Mode, key, mac, kid, now+lease.Milliseconds(), now)
		if err != nil {
			return IdempotencyClaim{}, fmt.Errorf("claim idempotency key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return IdempotencyClaim{key: key, claim: 1}, nil
		}

		var row idempotencyRow
		err = db.GetContext(ctx, &row, db.Rebind(`SELECT request_mac, mac_key_id, status, response, claim,
			locked_until_ms, created_at_ms FROM idempotency_keys WHERE merchant_id = ? AND mode = ? AND idem_key = ?`),
			caller.MerchantID, caller.Mode, key)
		if errors.Is(err, sql.ErrNoRows) {
			continue // purged between the insert and the read
		}
		if err != nil {
			return IdempotencyClaim{}, fmt.Errorf("read idempotency key: %w", err)
		}
		expired := row.CreatedAtMS <= now-IdempotencyTTL.Milliseconds()
		abandoned := !row.Status.Valid && row.LockedUntilMS.Valid && row.LockedUntilMS.Int64 <= now
		switch {
		case expired, abandoned && kr.CheckMAC(row.MACKeyID, request, row.RequestMAC):
			// Take the key over, unless someone else just did.
			res, err := db.ExecContext(ctx, db.Rebind(`UPDATE idempotency_keys SET request_mac = ?, mac_key_id = ?,
				status = NULL, response = NULL, claim = claim + 1, locked_until_ms = ?, created_at_ms = ?
				WHERE merchant_id = ? AND mode = ? AND idem_key = ? AND claim = ?`),
				mac, kid, now+lease.Milliseconds(), now, caller.MerchantID, caller.Mode, key, row.Claim)
			if err != nil {
				return IdempotencyClaim{}, fmt.Errorf("take over idempotency key: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return IdempotencyClaim{key: key, claim: row.Claim + 1}, nil
			}
			continue
		case !kr.CheckMAC(row.MACKeyID, request, row.RequestMAC):
			return IdempotencyClaim{}, &billing.Error{Kind: billing.KindConflict, Code: CodeIdempotencyKeyReused,
				Param: "Idempotency-Key", Message: "this Idempotency-Key was already used with a different request in the last 24 hours"}
		case !row.Status.Valid:
			return IdempotencyClaim{}, &billing.Error{Kind: billing.KindConflict, Code: CodeIdempotencyKeyInUse,
				Param: "Idempotency-Key", Message: "a request with this Idempotency-Key is still executing; retry shortly to get its response"}
		}
		return IdempotencyClaim{Replayed: true, Status: int(row.Status.Int64), Response: row.Response}, nil
	}
	return IdempotencyClaim{}, &billing.Error{Kind: billing.KindConflict, Code: CodeIdempotencyKeyInUse,
		Param: "Idempotency-Key", Message: "a request with this Idempotency-Key is still executing; retry shortly to get its response"}
}

// CompleteIdempotencyKey stores the response of a claimed key, to be replayed for 24
// hours. It does nothing if the claim was taken over meanwhile.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, caller Caller, c IdempotencyClaim, status int, response []byte) error {
	if response == nil {
		response = []byte{}
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE idempotency_keys SET status = ?, response = ?, locked_until_ms = NULL
		WHERE merchant_id = ? AND mode = ? AND idem_key = ? AND claim = ?`),
		status, response, caller.MerchantID, caller.Mode, c.key, c.claim); err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey gives a claimed key up without a response (the request failed
// on the server's side), so a retry with the key executes again.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, caller Caller, c IdempotencyClaim) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM idempotency_keys
		WHERE merchant_id = ? AND mode = ? AND idem_key = ? AND claim = ? AND status IS NULL`),
		caller.MerchantID, caller.Mode, c.key, c.claim); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys deletes keys older than IdempotencyTTL and returns how many.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	cutoff := db.now().Add(-IdempotencyTTL).UnixMilli()
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM idempotency_keys WHERE created_at_ms <= ?`), cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

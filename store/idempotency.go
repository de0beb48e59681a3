package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/recurring/recurring/billing"
)

type idempotencyRow struct {
	RequestMAC    []byte         `db:"request_mac"`
	MACKeyID      string         `db:"mac_key_id"`
	Status        sql.NullInt64  `db:"status"`
	Response      []byte         `db:"response"`
	ResponseKeyID sql.NullString `db:"response_key_id"`
	Claim         int64          `db:"claim"`
	LockedUntilMS sql.NullInt64  `db:"locked_until_ms"`
	CreatedAtMS   int64          `db:"created_at_ms"`
}

// ClaimIdempotencyKey claims key for one request of the caller, identified by request
// (method, path and canonical body). The claim is an INSERT on the key's primary key,
// so of concurrent requests exactly one wins; the others get idempotency_key_in_use
// until the winner stores its response, then a replay. A different request under a key
// still held gets idempotency_key_reused. lease bounds how long a claim without a
// response blocks the key: after it (the holder crashed) the next request takes over.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, caller billing.Caller, key string, request []byte, lease time.Duration) (billing.IdempotencyClaim, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.IdempotencyClaim{}, err
	}
	// A takeover that loses a race to another request reads the row again.
	for range 3 {
		now := db.now().UnixMilli()
		kid, mac := kr.MAC(request)
		res, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO idempotency_keys (merchant_id, mode, idem_key,
			request_mac, mac_key_id, claim, locked_until_ms, created_at_ms) VALUES (?, ?, ?, ?, ?, 1, ?, ?)
			ON CONFLICT DO NOTHING`), caller.MerchantID, caller.Mode, key, mac, kid, now+lease.Milliseconds(), now)
		if err != nil {
			return billing.IdempotencyClaim{}, fmt.Errorf("claim idempotency key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return billing.IdempotencyClaim{Key: key, Fence: 1}, nil
		}

		var row idempotencyRow
		err = db.GetContext(ctx, &row, db.Rebind(`SELECT request_mac, mac_key_id, status, response, response_key_id, claim,
			locked_until_ms, created_at_ms FROM idempotency_keys WHERE merchant_id = ? AND mode = ? AND idem_key = ?`),
			caller.MerchantID, caller.Mode, key)
		if errors.Is(err, sql.ErrNoRows) {
			continue // purged between the insert and the read
		}
		if err != nil {
			return billing.IdempotencyClaim{}, fmt.Errorf("read idempotency key: %w", err)
		}
		expired := row.CreatedAtMS <= now-billing.IdempotencyTTL.Milliseconds()
		abandoned := !row.Status.Valid && row.LockedUntilMS.Valid && row.LockedUntilMS.Int64 <= now
		switch {
		case expired, abandoned && kr.CheckMAC(row.MACKeyID, request, row.RequestMAC):
			// Take the key over, unless someone else just did.
			res, err := db.ExecContext(ctx, db.Rebind(`UPDATE idempotency_keys SET request_mac = ?, mac_key_id = ?,
				status = NULL, response = NULL, claim = claim + 1, locked_until_ms = ?, created_at_ms = ?
				WHERE merchant_id = ? AND mode = ? AND idem_key = ? AND claim = ?`),
				mac, kid, now+lease.Milliseconds(), now, caller.MerchantID, caller.Mode, key, row.Claim)
			if err != nil {
				return billing.IdempotencyClaim{}, fmt.Errorf("take over idempotency key: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return billing.IdempotencyClaim{Key: key, Fence: row.Claim + 1}, nil
			}
			continue
		case !kr.CheckMAC(row.MACKeyID, request, row.RequestMAC):
			return billing.IdempotencyClaim{}, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeIdempotencyKeyReused,
				Param: "Idempotency-Key", Message: "this Idempotency-Key was already used with a different request in the last 24 hours"}
		case !row.Status.Valid:
			return billing.IdempotencyClaim{}, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeIdempotencyKeyInUse,
				Param: "Idempotency-Key", Message: "a request with this Idempotency-Key is still executing; retry shortly to get its response"}
		}
		response := row.Response
		if row.ResponseKeyID.Valid {
			if response, err = kr.Open(row.ResponseKeyID.String, row.Response, responseAAD(caller, key)); err != nil {
				return billing.IdempotencyClaim{}, fmt.Errorf("open idempotent response: %w", err)
			}
		}
		return billing.IdempotencyClaim{Replayed: true, Status: int(row.Status.Int64), Response: response}, nil
	}
	return billing.IdempotencyClaim{}, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeIdempotencyKeyInUse,
		Param: "Idempotency-Key", Message: "a request with this Idempotency-Key is still executing; retry shortly to get its response"}
}

// CompleteIdempotencyKey stores the response of a claimed key, to be replayed for 24
// hours. It does nothing if the claim was taken over meanwhile. The response is sealed
// with the keyring: it may carry a secret shown once (a webhook signing secret) and
// personal data, which must not sit in the database in clear.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, caller billing.Caller, c billing.IdempotencyClaim, status int, response []byte) error {
	kr, err := db.keyring()
	if err != nil {
		return err
	}
	kid, sealed, err := kr.Seal(response, responseAAD(caller, c.Key))
	if err != nil {
		return fmt.Errorf("seal idempotent response: %w", err)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE idempotency_keys SET status = ?, response = ?, response_key_id = ?,
		locked_until_ms = NULL WHERE merchant_id = ? AND mode = ? AND idem_key = ? AND claim = ?`),
		status, sealed, kid, caller.MerchantID, caller.Mode, c.Key, c.Fence); err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey gives a claimed key up without a response (the request failed
// on the server's side), so a retry with the key executes again.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, caller billing.Caller, c billing.IdempotencyClaim) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM idempotency_keys
		WHERE merchant_id = ? AND mode = ? AND idem_key = ? AND claim = ? AND status IS NULL`),
		caller.MerchantID, caller.Mode, c.Key, c.Fence); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys deletes keys older than billing.IdempotencyTTL and returns how many.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	cutoff := db.now().Add(-billing.IdempotencyTTL).UnixMilli()
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM idempotency_keys WHERE created_at_ms <= ?`), cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// RenewIdempotencyKey extends a claim's lease while its request still runs, so a slow
// request keeps its key and a dead process's claim is taken over soon after it stops
// renewing. It reports false when the claim is no longer held (taken over or done).
func (db *DB) RenewIdempotencyKey(ctx context.Context, caller billing.Caller, c billing.IdempotencyClaim, lease time.Duration) (bool, error) {
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE idempotency_keys SET locked_until_ms = ?
		WHERE merchant_id = ? AND mode = ? AND idem_key = ? AND claim = ? AND status IS NULL`),
		db.now().Add(lease).UnixMilli(), caller.MerchantID, caller.Mode, c.Key, c.Fence)
	if err != nil {
		return false, fmt.Errorf("renew idempotency key: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// responseAAD binds a sealed response to its key, so a stored answer cannot be replayed
// under another merchant's, mode's or key's name.
func responseAAD(caller billing.Caller, key string) []byte {
	return []byte("idempotency-response\x00" + caller.MerchantID + "\x00" + string(caller.Mode) + "\x00" + key)
}

-- +goose Up
-- Idempotency-Key claims. A request inserts its row before executing (the primary key
-- makes concurrent duplicates lose), and stores its response when done. Times are Unix
-- milliseconds so both dialects compare them the same way in SQL.
CREATE TABLE idempotency_keys (
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    mode            TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    idem_key        TEXT NOT NULL,
    -- HMAC-SHA256 (keyed, see internal/seal) of method, path and canonical body: a plain
    -- hash of a body holding a card number could be brute-forced.
    request_mac     BYTEA NOT NULL,
    mac_key_id      TEXT NOT NULL,
    -- NULL while the request executes.
    status          INTEGER,
    response        BYTEA,
    -- Bumped whenever the claim changes hands, for optimistic takeover.
    claim           INTEGER NOT NULL,
    locked_until_ms BIGINT,
    created_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, mode, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);

-- +goose Down
DROP TABLE idempotency_keys;

-- +goose Up
-- A hosted payment session: a payment the customer completes on the engine's page
-- (card entry, 3-D Secure). Its id is the payment's; the ledger row (payments) appears
-- once the card is charged. token_hash is the SHA-256 of the payment_url's secret
-- token, by which the page finds the session; the token itself is sealed (token_key_id
-- names the key) so a retried create or a GET can show payment_url again. plan_id is set
-- for a session that changes a plan's card (no charge); outcome is how it ended.
CREATE TABLE payment_sessions (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id),
    mode              TEXT NOT NULL,
    customer_id       TEXT NOT NULL,
    amount            BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    type              TEXT NOT NULL,
    save_card         BOOLEAN NOT NULL,
    provider          TEXT NOT NULL,
    return_url        TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    reference         TEXT NOT NULL DEFAULT '',
    token_hash        TEXT NOT NULL UNIQUE,
    token_key_id      TEXT NOT NULL,
    token             BYTEA NOT NULL,
    status            TEXT NOT NULL,
    payment_method_id TEXT NOT NULL DEFAULT '',
    plan_id           TEXT NOT NULL DEFAULT '',
    outcome           TEXT NOT NULL DEFAULT '',
    expires_at        TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_sessions_merchant ON payment_sessions (merchant_id, mode);

-- +goose Down
DROP TABLE payment_sessions;

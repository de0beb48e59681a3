-- +goose Up
-- Detach reaches the provider (issue 16, point 7): detaching a card copies its sealed
-- token here, in the transaction that wipes it from payment_methods, for the
-- RemoveCredential workflow to remove it at the provider. The token is cleared once
-- the provider has removed it (or cannot).
CREATE TABLE credential_removals (
    payment_method_id TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants(id),
    mode              TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    provider          TEXT NOT NULL,
    provider_account  TEXT NOT NULL DEFAULT '',
    method_type       TEXT NOT NULL DEFAULT 'card',
    customer_ref      TEXT NOT NULL DEFAULT '',
    token_key_id      TEXT,
    token             BYTEA,
    outcome           TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    started_at        TIMESTAMPTZ,
    removed_at        TIMESTAMPTZ
);
CREATE INDEX credential_removals_unstarted ON credential_removals (created_at) WHERE started_at IS NULL;

-- +goose Down
DROP TABLE credential_removals;

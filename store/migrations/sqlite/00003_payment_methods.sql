-- +goose Up
-- Saved cards. Only the provider's token is kept, sealed with AES-256-GCM under the key
-- named by token_key_id (internal/seal), plus display data. The card number and CVC
-- never reach this table.
CREATE TABLE payment_methods (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT NOT NULL UNIQUE,
    merchant_id           TEXT NOT NULL REFERENCES merchants(id),
    mode                  TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    customer_id           TEXT NOT NULL REFERENCES customers(id),
    provider              TEXT NOT NULL,
    provider_customer_ref TEXT,
    token_key_id          TEXT,
    token                 BLOB,
    brand                 TEXT,
    last4                 TEXT,
    exp_month             INTEGER,
    exp_year              INTEGER,
    fingerprint           TEXT,
    status                TEXT NOT NULL CHECK (status IN ('active', 'blocked', 'detached')),
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    detached_at           TIMESTAMP,
    -- A detached card is a tombstone: no token, no card details, so it can never be
    -- unblocked or charged again. Every other card has its token.
    CHECK ((status = 'detached') = (token IS NULL)),
    CHECK ((token IS NULL) = (token_key_id IS NULL)),
    CHECK (status <> 'detached' OR (brand IS NULL AND last4 IS NULL AND exp_month IS NULL
        AND exp_year IS NULL AND fingerprint IS NULL))
);
CREATE INDEX payment_methods_customer ON payment_methods (customer_id, seq);
CREATE INDEX payment_methods_token_key ON payment_methods (token_key_id);

-- +goose Down
DROP TABLE payment_methods;

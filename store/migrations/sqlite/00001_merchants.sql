-- +goose Up
CREATE TABLE merchants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- API keys are stored as SHA-256 hashes: the keys are 256-bit random secrets, so a fast
-- hash is enough and lets a request find its key by index.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    mode        TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    key_hash    TEXT NOT NULL UNIQUE,
    key_hint    TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE merchants;

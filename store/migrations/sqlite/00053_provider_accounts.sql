-- +goose Up
-- Merchants' own provider accounts. The credentials are one JSON object sealed with
-- the store's keyring (its key id beside it); credential_fields lists the names set,
-- which is all the API shows. A deleted account keeps its row (cards name it) with
-- its credentials erased.
CREATE TABLE provider_accounts (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    merchant_id        TEXT NOT NULL REFERENCES merchants(id),
    mode               TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    provider           TEXT NOT NULL,
    name               TEXT NOT NULL,
    base_url           TEXT NOT NULL DEFAULT '',
    credential_fields  TEXT NOT NULL,
    credentials_key_id TEXT,
    credentials        BLOB,
    created_at         TIMESTAMP NOT NULL,
    deleted_at         TIMESTAMP
);
CREATE INDEX provider_accounts_merchant ON provider_accounts (merchant_id, mode, seq);

-- The account a card is saved in; NULL for the installation's provider.
ALTER TABLE payment_methods ADD COLUMN provider_account TEXT;
CREATE INDEX payment_methods_provider_account ON payment_methods (provider_account);

-- +goose Down
DROP INDEX payment_methods_provider_account;
ALTER TABLE payment_methods DROP COLUMN provider_account;
DROP TABLE provider_accounts;

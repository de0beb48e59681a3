-- +goose Up
-- Customers belong to one merchant in one mode; every query filters on both. seq gives
-- lists a stable newest-first order for cursor pagination (ids are random).
CREATE TABLE customers (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    mode                TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    -- Personal data is erased when the customer is deleted; the row stays as a
    -- tombstone so payment history keeps its references.
    email               TEXT,
    first_name          TEXT,
    last_name           TEXT,
    address_line1       TEXT,
    address_line2       TEXT,
    address_city        TEXT,
    address_state       TEXT,
    address_postal_code TEXT,
    address_country     TEXT,
    metadata            TEXT NOT NULL DEFAULT '{}',
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    deleted_at          TIMESTAMP,
    CHECK (deleted_at IS NOT NULL OR email IS NOT NULL)
);
CREATE INDEX customers_list ON customers (merchant_id, mode, seq);
CREATE INDEX customers_email ON customers (merchant_id, mode, lower(email));

-- +goose Down
DROP TABLE customers;

-- +goose Up
-- Refunds (issue 16, point 1): one row per refund of a payment, written pending by the
-- refund's workflow before the provider is asked, so the pending and succeeded refunds
-- of a payment reserve what they return and can never add up to more than it.
-- payments.amount_refunded counts the succeeded ones. payments gains the indexes the
-- list across plans (GET /v1/payments) reads by.
CREATE TABLE refunds (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    merchant_id        TEXT NOT NULL REFERENCES merchants(id),
    mode               TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    payment_id         TEXT NOT NULL REFERENCES payments(id),
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    reason             TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider           TEXT NOT NULL,
    provider_account   TEXT NOT NULL DEFAULT '',
    provider_charge_id TEXT NOT NULL,
    provider_refund_id TEXT NOT NULL DEFAULT '',
    failure_code       TEXT NOT NULL DEFAULT '',
    failure_message    TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX refunds_merchant ON refunds (merchant_id, mode, seq);
CREATE INDEX refunds_payment ON refunds (payment_id, seq);
ALTER TABLE payments ADD COLUMN amount_refunded BIGINT NOT NULL DEFAULT 0;
CREATE INDEX payments_merchant ON payments (merchant_id, mode, seq);
CREATE INDEX payments_customer ON payments (customer_id, seq);

-- +goose Down
DROP INDEX payments_customer;
DROP INDEX payments_merchant;
ALTER TABLE payments DROP COLUMN amount_refunded;
DROP TABLE refunds;

-- +goose Up
-- Plans are written by their workflow (plan_<id>): the row is created by the workflow's
-- first activity and its status kept current by later ones, so a row never exists
-- without its workflow. customer_id and payment_method_id are not foreign keys: the
-- ledger must outlive a deleted customer or card.
CREATE TABLE plans (
    id                 TEXT PRIMARY KEY,
    seq                BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    merchant_id        TEXT NOT NULL REFERENCES merchants(id),
    mode               TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    customer_id        TEXT NOT NULL,
    payment_method_id  TEXT NOT NULL,
    provider           TEXT NOT NULL,
    currency           TEXT NOT NULL,
    type               TEXT NOT NULL CHECK (type IN ('ecom', 'moto')),
    reference          TEXT NOT NULL DEFAULT '',
    merchant_data      JSON,
    schedule           JSON NOT NULL,
    timetable          JSON NOT NULL,
    dunning            JSON NOT NULL,
    initial_payment_id TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,
    next_charge_at     TIMESTAMPTZ,
    state_seq          BIGINT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX plans_merchant ON plans (merchant_id, mode, seq);
CREATE INDEX plans_customer ON plans (customer_id, seq);
CREATE INDEX plans_payment_method ON plans (payment_method_id);

-- One row per charge attempt. A plan installment's attempt is unique, and so is every
-- idempotency key: recording the same attempt twice (an activity retry) finds the row.
CREATE TABLE payments (
    id                     TEXT PRIMARY KEY,
    seq                    BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    merchant_id            TEXT NOT NULL REFERENCES merchants(id),
    mode                   TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    plan_id                TEXT,
    customer_id            TEXT NOT NULL,
    payment_method_id      TEXT NOT NULL,
    installment            INTEGER NOT NULL,
    attempt                INTEGER NOT NULL,
    amount                 BIGINT NOT NULL,
    currency               TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'pending')),
    payment_type           TEXT NOT NULL CHECK (payment_type IN ('one_off', 'initial', 'recurring')),
    is_recurring           BOOLEAN NOT NULL,
    provider               TEXT NOT NULL,
    provider_charge_id     TEXT NOT NULL DEFAULT '',
    network_transaction_id TEXT NOT NULL DEFAULT '',
    idempotency_key        TEXT NOT NULL UNIQUE,
    failure_code           TEXT NOT NULL DEFAULT '',
    failure_class          TEXT NOT NULL DEFAULT '',
    failure_message        TEXT NOT NULL DEFAULT '',
    due_at                 TIMESTAMPTZ,
    attempted_at           TIMESTAMPTZ NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    UNIQUE (plan_id, installment, attempt)
);
CREATE INDEX payments_plan ON payments (plan_id, seq);
CREATE INDEX payments_card_attempts ON payments (payment_method_id, attempted_at);

-- The event log webhooks are delivered from. idempotency_key makes emitting an event
-- from a retried activity a no-op.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    seq             BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    mode            TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    type            TEXT NOT NULL,
    data            JSON NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_merchant ON events (merchant_id, mode, seq);

-- +goose Down
DROP TABLE events;
DROP TABLE payments;
DROP TABLE plans;

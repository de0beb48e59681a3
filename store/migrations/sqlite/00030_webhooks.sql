-- +goose Up
-- Webhook endpoints. The signing secret is sealed with the store's keyring (its key id
-- beside it); after a rotation the previous secret keeps signing until
-- previous_expires_at, so receivers can switch without losing a delivery.
CREATE TABLE webhook_endpoints (
    seq                     INTEGER PRIMARY KEY AUTOINCREMENT,
    id                      TEXT NOT NULL UNIQUE,
    merchant_id             TEXT NOT NULL REFERENCES merchants(id),
    mode                    TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    url                     TEXT NOT NULL,
    description             TEXT NOT NULL DEFAULT '',
    event_types             TEXT NOT NULL,
    secret_key_id           TEXT NOT NULL,
    secret                  BLOB NOT NULL,
    previous_secret_key_id  TEXT,
    previous_secret         BLOB,
    previous_expires_at     TIMESTAMP,
    status                  TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason         TEXT NOT NULL DEFAULT '',
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, mode, seq);

-- One row per delivery attempt (delivery = one workflow: an event to an endpoint, or a
-- redelivery). Unique on (delivery_id, attempt) so a retried activity records once.
CREATE TABLE webhook_attempts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    mode         TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    event_id     TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    url          TEXT NOT NULL,
    status_code  INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    duration_ms  BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, seq);

-- The outbox marker: an event is dispatched once a delivery workflow was started for
-- each endpoint it matched. Events older than webhooks are not sent.
ALTER TABLE events ADD COLUMN dispatched_at TIMESTAMP;
UPDATE events SET dispatched_at = created_at;
CREATE INDEX events_undispatched ON events (seq) WHERE dispatched_at IS NULL;

-- +goose Down
DROP INDEX events_undispatched;
ALTER TABLE events DROP COLUMN dispatched_at;
DROP TABLE webhook_attempts;
DROP TABLE webhook_endpoints;

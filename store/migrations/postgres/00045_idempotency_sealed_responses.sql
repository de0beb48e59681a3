-- +goose Up
-- Stored responses are sealed (AES-256-GCM under ENCRYPTION_KEYS, bound to their key's
-- merchant, mode and name): they can carry a webhook signing secret, shown once, and
-- personal data. response_key_id names the sealing key; NULL marks a response stored in
-- clear by an older version, replayed as it is until it expires within 24 hours.
ALTER TABLE idempotency_keys ADD COLUMN response_key_id TEXT;

-- +goose Down
ALTER TABLE idempotency_keys DROP COLUMN response_key_id;

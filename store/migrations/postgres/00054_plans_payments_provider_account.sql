-- +goose Up
-- The merchant's provider account (pa_…) a plan charges and a payment went through,
-- taken from the card when the row is written ('' for the installation's provider).
ALTER TABLE plans ADD COLUMN provider_account TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN provider_account TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE payments DROP COLUMN provider_account;
ALTER TABLE plans DROP COLUMN provider_account;

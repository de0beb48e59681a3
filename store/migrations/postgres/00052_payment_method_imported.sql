-- +goose Up
-- A card saved at the provider before the engine knew it (token import): its
-- cardholder consent exists, so a plan's first charge on it is merchant-initiated.
ALTER TABLE payment_methods ADD COLUMN imported BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE payment_methods DROP COLUMN imported;

-- +goose Up
-- A hosted page saves the customer's card in the merchant's provider account when the
-- session names one (a payment or plan on the account, or a plan charged through it).
ALTER TABLE payment_sessions ADD COLUMN provider_account TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE payment_sessions DROP COLUMN provider_account;

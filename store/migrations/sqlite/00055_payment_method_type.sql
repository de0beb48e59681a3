-- +goose Up
-- A saved payment method is a card or a PayPal billing agreement (charged with its
-- recurrence token through the merchant's provider); existing rows are cards.
ALTER TABLE payment_methods ADD COLUMN type TEXT NOT NULL DEFAULT 'card';
ALTER TABLE payment_methods ADD COLUMN payer_email TEXT;

-- +goose Down
ALTER TABLE payment_methods DROP COLUMN payer_email;
ALTER TABLE payment_methods DROP COLUMN type;

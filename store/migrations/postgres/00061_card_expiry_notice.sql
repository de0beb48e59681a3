-- +goose Up
-- Card expiry notices (issue 16, point 6): which of payment_method.expiring and
-- payment_method.expired a saved card has had, so each is sent once.
ALTER TABLE payment_methods ADD COLUMN expiry_notice TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE payment_methods DROP COLUMN expiry_notice;

-- +goose Up
-- Card expiry notices (issue 16, point 6): which of payment_method.expiring and
-- payment_method.expired a saved card has had, so each is sent once.
ALTER TABLE payment_methods ADD COLUMN expiry_notice TEXT NOT NULL DEFAULT '';
-- Cards already expired when this version arrives are not announced (years-old ones
-- would all be, at once).
UPDATE payment_methods SET expiry_notice = 'expired'
    WHERE exp_year > 0 AND exp_month BETWEEN 1 AND 12 AND exp_year * 12 + exp_month < (EXTRACT(YEAR FROM now())::int * 12 + EXTRACT(MONTH FROM now())::int);

-- +goose Down
ALTER TABLE payment_methods DROP COLUMN expiry_notice;

-- +goose Up
-- A session with start_plan set starts an incomplete plan (plan_id): the customer's
-- card pays the plan's first installment (or is verified, for a plan starting later).
-- Without it, a session with a plan_id changes that plan's card.
ALTER TABLE payment_sessions ADD COLUMN start_plan BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX payment_sessions_plan ON payment_sessions (plan_id) WHERE plan_id <> '';

-- +goose Down
DROP INDEX payment_sessions_plan;
ALTER TABLE payment_sessions DROP COLUMN start_plan;

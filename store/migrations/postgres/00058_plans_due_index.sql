-- +goose Up
-- The installments-waiting gauge counts active plans whose next charge is due: a partial
-- index keeps that a range scan over the due plans, not a scan of every plan.
CREATE INDEX plans_active_next_charge ON plans (next_charge_at) WHERE status = 'active';

-- +goose Down
DROP INDEX plans_active_next_charge;

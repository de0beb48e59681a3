-- +goose Up
-- Charges are paced per provider account (issue 14, point 7): an account's limit, and
-- one row per lane (an account, or an installation provider) holding the next free
-- send slot in Unix microseconds, shared by every worker.
ALTER TABLE provider_accounts ADD COLUMN max_charges_per_second INTEGER NOT NULL DEFAULT 0;
CREATE TABLE charge_pacing (
    lane    TEXT PRIMARY KEY,
    next_us BIGINT NOT NULL
);

-- +goose Down
DROP TABLE charge_pacing;
ALTER TABLE provider_accounts DROP COLUMN max_charges_per_second;

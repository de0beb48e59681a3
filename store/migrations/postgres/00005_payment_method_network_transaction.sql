-- +goose Up
-- The card network's id of the initial customer-initiated payment that stored the card
-- (stored-credential framework): merchant-initiated charges of the card reference it.
-- Erased with the rest of the card when it is detached.
ALTER TABLE payment_methods ADD COLUMN network_transaction_id TEXT;

-- +goose Down
ALTER TABLE payment_methods DROP COLUMN network_transaction_id;

-- +goose Up
-- What the simulator provider remembers across processes: each idempotency key's final
-- answer (opaque JSON), as a real provider does. Only the simulator uses it.
CREATE TABLE simulator_journal (
    idempotency_key TEXT PRIMARY KEY,
    record          TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE simulator_journal;

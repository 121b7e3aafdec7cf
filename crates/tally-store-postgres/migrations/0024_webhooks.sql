-- Webhooks (issue 7, see tally-core/src/usecases/webhooks.rs): a program's endpoints in the
-- merchant's systems and the events each one wants, and an outbox of deliveries written in
-- the same transaction as the change they report. A deliverer leases due rows by moving
-- `due_at_us` ahead (a node that dies lets them fall due again), signs each attempt
-- (Standard Webhooks) and settles it: `delivered`, or `pending` again after a backoff, or
-- `dead` after the last attempt, from where an operator replays it under the same id.

CREATE TABLE webhook_endpoints (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    url           TEXT NOT NULL,
    description   TEXT NOT NULL,
    event_types   TEXT NOT NULL,
    secret        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_program ON webhook_endpoints (program_id, seq);

CREATE TABLE webhook_deliveries (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL,
    program_id      TEXT NOT NULL REFERENCES programs(id),
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    due_at_us       BIGINT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT,
    created_at_us   BIGINT NOT NULL,
    settled_at_us   BIGINT,
    replays         BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX webhook_deliveries_dedupe ON webhook_deliveries (endpoint_id, dedupe_key);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at_us) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_program ON webhook_deliveries (program_id, status, seq);

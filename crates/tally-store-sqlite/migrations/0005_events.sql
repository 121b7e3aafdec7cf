-- Custom events (see tally-core/src/usecases/events.rs): the event types a program declares,
-- each with its property schema (the document as the API shows it), and the events posted.
-- An event's idempotency key is unique per program; with it, the content hash and the answer
-- given make a retry answer the same and a different event under the same key a 409.

CREATE TABLE event_types (
    program_id     TEXT NOT NULL REFERENCES programs(id),
    name           TEXT NOT NULL,
    document       TEXT NOT NULL,
    created_at_us  INTEGER NOT NULL,
    updated_at_us  INTEGER NOT NULL,
    PRIMARY KEY (program_id, name)
);

CREATE TABLE events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    program_id      TEXT NOT NULL REFERENCES programs(id),
    member_id       TEXT NOT NULL REFERENCES members(id),
    type            TEXT NOT NULL,
    properties      TEXT NOT NULL,
    idempotency_key TEXT,
    content_sha256  TEXT NOT NULL,
    answer          TEXT NOT NULL,
    occurred_at_us  INTEGER NOT NULL,
    recorded_at_us  INTEGER NOT NULL,
    UNIQUE (program_id, idempotency_key)
);
CREATE INDEX events_member ON events (member_id, seq);
CREATE INDEX events_program_time ON events (program_id, occurred_at_us);

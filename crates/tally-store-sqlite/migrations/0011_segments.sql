-- Segments (see tally-core/src/segments.rs): dynamic ones are a condition over members' facts,
-- static ones a list; who is in each now, every entry and exit (for campaigns), and the size
-- at the end of each day it changed.

CREATE TABLE segments (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL,
    program_id      TEXT NOT NULL REFERENCES programs(id),
    -- What rules name the segment by: an identifier that never changes.
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('dynamic', 'static')),
    definition      TEXT,
    status          TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    size            INTEGER NOT NULL DEFAULT 0,
    evaluated_at_us INTEGER,
    created_at_us   INTEGER NOT NULL,
    updated_at_us   INTEGER NOT NULL,
    UNIQUE (program_id, key),
    CHECK ((kind = 'dynamic') = (definition IS NOT NULL))
);

CREATE TABLE segment_members (
    segment_id    TEXT NOT NULL REFERENCES segments(id),
    member_id     TEXT NOT NULL REFERENCES members(id),
    entered_at_us INTEGER NOT NULL,
    PRIMARY KEY (segment_id, member_id)
);
CREATE INDEX segment_members_member ON segment_members (member_id);

CREATE TABLE segment_changes (
    seq        INTEGER PRIMARY KEY,
    segment_id TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    change     TEXT NOT NULL CHECK (change IN ('entered', 'left')),
    at_us      INTEGER NOT NULL
);
CREATE INDEX segment_changes_segment ON segment_changes (segment_id, seq);
CREATE INDEX segment_changes_member ON segment_changes (member_id, seq);

CREATE TABLE segment_sizes (
    segment_id TEXT NOT NULL REFERENCES segments(id),
    day        TEXT NOT NULL,
    size       INTEGER NOT NULL,
    PRIMARY KEY (segment_id, day)
);

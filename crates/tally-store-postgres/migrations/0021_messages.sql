-- The outbox (issue 7, see tally-core/src/usecases/messages.rs): one row per message to one
-- member, written in the same transaction as what causes it. A deliverer claims due rows by
-- moving `due_at_us` a lease ahead (a node that dies lets them fall due again), fills in the
-- content when first claimed, and settles them. `dedupe_key` keeps one message per cause per
-- member (a campaign, a journey step); `token` names the message in unsubscribe and tracking
-- links. `message_counts` is what weekly caps take a place from; `program_messaging` holds a
-- program's settings (quiet hours, caps, fallback order, tracking) as JSON.

CREATE TABLE messages (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    tenant_id          TEXT NOT NULL,
    program_id         TEXT NOT NULL REFERENCES programs(id),
    member_id          TEXT NOT NULL REFERENCES members(id),
    template_id        TEXT NOT NULL REFERENCES message_templates(id),
    channel            TEXT,
    source             TEXT NOT NULL,
    source_id          TEXT,
    dedupe_key         TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'bounced', 'failed', 'suppressed', 'held_out')),
    reason             TEXT,
    due_at_us          BIGINT NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    sent_channel       TEXT,
    address            TEXT,
    subject            TEXT,
    html               TEXT,
    body_text          TEXT,
    token              TEXT NOT NULL UNIQUE,
    created_at_us      BIGINT NOT NULL,
    settled_at_us      BIGINT,
    opened_at_us       BIGINT,
    clicked_at_us      BIGINT,
    unsubscribed_at_us BIGINT,
    read_at_us         BIGINT
);
CREATE UNIQUE INDEX messages_dedupe ON messages (program_id, dedupe_key);
CREATE INDEX messages_due ON messages (due_at_us) WHERE status = 'queued';
CREATE INDEX messages_member ON messages (member_id, seq);
CREATE INDEX messages_source ON messages (source_id, status);

CREATE TABLE message_counts (
    member_id TEXT NOT NULL REFERENCES members(id),
    channel   TEXT NOT NULL,
    week      TEXT NOT NULL,
    sent      BIGINT NOT NULL,
    PRIMARY KEY (member_id, channel, week)
);

CREATE TABLE program_messaging (
    program_id    TEXT PRIMARY KEY REFERENCES programs(id),
    settings      TEXT NOT NULL,
    updated_at_us BIGINT NOT NULL
);

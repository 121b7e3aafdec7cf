-- Message templates (campaigns, issue 7): what a message says, with placeholders filled in per
-- member when it is made (see tally-domain/src/templates.rs).

CREATE TABLE message_templates (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    name          TEXT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('email')),
    subject       TEXT NOT NULL,
    html          TEXT,
    body_text     TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX message_templates_program ON message_templates (program_id, seq);

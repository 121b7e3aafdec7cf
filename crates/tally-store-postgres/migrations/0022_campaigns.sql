-- One-off campaigns (issue 7, see tally-core/src/usecases/campaigns.rs): a template to a
-- segment's members (or all active members). Launched, a campaign is fanned out into
-- `messages` in chunks of members in `seq` order; `cursor` is the last member's `seq` done, moved
-- with a conditional write so two nodes never fan out the same chunk (the messages' dedupe key
-- would refuse a second copy anyway).

CREATE TABLE campaigns (
    seq                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                     TEXT NOT NULL UNIQUE,
    tenant_id              TEXT NOT NULL,
    program_id             TEXT NOT NULL REFERENCES programs(id),
    name                   TEXT NOT NULL,
    template_id            TEXT NOT NULL REFERENCES message_templates(id),
    segment_id             TEXT REFERENCES segments(id),
    channel                TEXT,
    send_at_us             BIGINT,
    best_hour_within_hours BIGINT,
    holdout_percent        BIGINT NOT NULL,
    conversion_days        BIGINT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'sending', 'queued', 'cancelled')),
    cursor                 BIGINT NOT NULL DEFAULT 0,
    queued                 BIGINT NOT NULL DEFAULT 0,
    held_out               BIGINT NOT NULL DEFAULT 0,
    created_at_us          BIGINT NOT NULL,
    launched_at_us         BIGINT,
    fanned_out_at_us       BIGINT
);
CREATE INDEX campaigns_program ON campaigns (program_id, seq);
CREATE INDEX campaigns_due ON campaigns (send_at_us) WHERE status IN ('scheduled', 'sending');

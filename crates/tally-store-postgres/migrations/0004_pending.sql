-- Pending points (see tally-core/src/pending.rs): a program's return window, and one row per
-- purchase whose points wait in the member's pending account until `release_at_us`. A return
-- inside the window takes from `remaining` first; the release job moves what is left to the
-- available account exactly once.

ALTER TABLE programs ADD COLUMN pending_days BIGINT NOT NULL DEFAULT 0;

CREATE TABLE pending_points (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id     TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    purchase_id    TEXT NOT NULL UNIQUE,
    release_at_us  BIGINT NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount > 0),
    remaining      BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount)
);
CREATE INDEX pending_points_member ON pending_points (member_id, release_at_us) WHERE remaining > 0;
CREATE INDEX pending_points_due ON pending_points (program_id, release_at_us) WHERE remaining > 0;

-- Journeys (issue 7, see tally-core/src/usecases/journeys.rs): a trigger puts a member on a
-- path of steps. `journey_runs` is each member's place on a journey: the next step and when it
-- is due. A run is unique per journey, member and occurrence ("once", a year, or the cause's id),
-- so a trigger that fires twice for one occurrence enters once. Runs are advanced like
-- messages: a conditional write moves `due_at_us` a lease ahead, so one node runs a step.

CREATE TABLE journeys (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    name          TEXT NOT NULL,
    trigger_type  TEXT NOT NULL,
    document      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL
);
CREATE INDEX journeys_program ON journeys (program_id, status, trigger_type);

CREATE TABLE journey_runs (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    journey_id    TEXT NOT NULL REFERENCES journeys(id),
    member_id     TEXT NOT NULL REFERENCES members(id),
    occurrence    TEXT NOT NULL,
    step          BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'done', 'exited')),
    due_at_us     BIGINT NOT NULL,
    entered_at_us BIGINT NOT NULL,
    ended_at_us   BIGINT,
    UNIQUE (journey_id, member_id, occurrence)
);
CREATE INDEX journey_runs_due ON journey_runs (due_at_us) WHERE status = 'active';
CREATE INDEX journey_runs_member ON journey_runs (member_id, seq);

-- Journey holdouts (issue 7): a random share of the members a trigger would put on a journey is
-- kept back, to measure what the journey does. A held-out member gets a run that is over at
-- once (`status = 'done'`, `held_out = 1`): they are entered once, like everyone, and never
-- reach a step. The report compares their purchases with the treated members'.
ALTER TABLE journey_runs ADD COLUMN held_out BIGINT NOT NULL DEFAULT 0;

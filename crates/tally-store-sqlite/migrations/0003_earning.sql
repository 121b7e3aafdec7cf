-- The earning engine: rules (each rule's current document, every version it ever had, and what
-- each rule awarded to whom, for per-member limits and budgets) and tiers.

CREATE TABLE rules (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    program_id    TEXT NOT NULL REFERENCES programs(id),
    version       INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    document      TEXT NOT NULL,
    -- Points this rule has awarded in all; only a budgeted rule keeps it (a conditional write
    -- keeps it under the budget), others leave it at 0 so no row is hot.
    budget        INTEGER,
    awarded_total INTEGER NOT NULL DEFAULT 0 CHECK (budget IS NULL OR awarded_total <= budget),
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX rules_program ON rules (program_id, seq);

CREATE TABLE rule_versions (
    rule_id       TEXT NOT NULL REFERENCES rules(id),
    version       INTEGER NOT NULL,
    document      TEXT NOT NULL,
    actor         TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    PRIMARY KEY (rule_id, version)
);
CREATE TRIGGER rule_versions_no_update BEFORE UPDATE ON rule_versions
BEGIN SELECT RAISE(ABORT, 'rule versions are immutable'); END;
CREATE TRIGGER rule_versions_no_delete BEFORE DELETE ON rule_versions
BEGIN SELECT RAISE(ABORT, 'rule versions are immutable'); END;

-- One row per award of any rule: summed over a per-member limit's window, and counted again when
-- a later version adds a budget.
CREATE TABLE rule_awards (
    rule_id        TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    points         INTEGER NOT NULL,
    occurred_at_us INTEGER NOT NULL
);
CREATE INDEX rule_awards_member ON rule_awards (rule_id, member_id, occurred_at_us);

-- Bumped by every change of a program's rules, in the same transaction: a node's cache of
-- compiled rules is valid while the revision it was built from is current.
ALTER TABLE programs ADD COLUMN rules_revision INTEGER NOT NULL DEFAULT 0;

-- Tiers: a program's plan (a JSON document), each member's tier, and every change of it.
CREATE TABLE tier_plans (
    program_id    TEXT PRIMARY KEY REFERENCES programs(id),
    document      TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL
);

-- A member without a row holds the plan's first level if its threshold is 0, else none.
CREATE TABLE member_tiers (
    member_id     TEXT PRIMARY KEY REFERENCES members(id),
    program_id    TEXT NOT NULL,
    tier          TEXT NOT NULL,
    reached_at_us INTEGER NOT NULL,
    -- When the review that may downgrade it is due; NULL: never (lifetime).
    review_at_us  INTEGER
);
CREATE INDEX member_tiers_review ON member_tiers (program_id, review_at_us);

CREATE TABLE tier_changes (
    seq            INTEGER PRIMARY KEY,
    program_id     TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    from_tier      TEXT,
    to_tier        TEXT,
    qualifying     INTEGER NOT NULL,
    reason         TEXT NOT NULL CHECK (reason IN ('upgrade', 'downgrade', 'kept')),
    at_us          INTEGER NOT NULL
);
CREATE INDEX tier_changes_member ON tier_changes (member_id, seq);

-- Expiry: the program's policy, and the lots points are kept in. Lots are bookkeeping beside
-- the ledger (which stays the truth): the open lots of a member add up to their available
-- balance when it is positive; spending takes the lots that expire first.
CREATE TABLE expiry_policies (
    program_id    TEXT PRIMARY KEY REFERENCES programs(id),
    document      TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL
);

CREATE TABLE point_lots (
    seq           INTEGER PRIMARY KEY,
    program_id    TEXT NOT NULL,
    member_id     TEXT NOT NULL,
    earned_at_us  INTEGER NOT NULL,
    -- NULL: never (or not until a later activity sets it).
    expires_at_us INTEGER,
    amount        INTEGER NOT NULL CHECK (amount > 0),
    remaining     INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= amount)
);
CREATE INDEX point_lots_member ON point_lots (member_id, expires_at_us, seq) WHERE remaining > 0;
CREATE INDEX point_lots_due ON point_lots (program_id, expires_at_us) WHERE remaining > 0;

-- Birthdays and anniversaries: one row per member, occasion and year, written before the bonus
-- is given, so a bonus is given at most once a year whatever reruns or catch-ups happen.
CREATE TABLE occasion_awards (
    member_id     TEXT NOT NULL,
    occasion      TEXT NOT NULL CHECK (occasion IN ('birthday', 'anniversary')),
    year          INTEGER NOT NULL,
    awarded_at_us INTEGER NOT NULL,
    PRIMARY KEY (member_id, occasion, year)
);

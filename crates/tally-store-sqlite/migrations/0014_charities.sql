-- Charity partners of a program (see tally-core/src/usecases/charities.rs): members give points
-- (a `donate` transfer into the program's donations account), each gift is converted to money
-- at the program's point value when it is made, and the program records what it has paid out.

INSERT INTO accounts (id, program_id, member_id, kind, balance)
SELECT id || ':donations', id, NULL, 'donations', NULL FROM programs
WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE accounts.id = programs.id || ':donations');

CREATE TABLE charities (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    name          TEXT NOT NULL,
    description   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    created_at_us INTEGER NOT NULL
);
CREATE INDEX charities_program ON charities (program_id, seq);

CREATE TABLE donations (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    charity_id    TEXT NOT NULL REFERENCES charities(id),
    member_id     TEXT NOT NULL,
    points        INTEGER NOT NULL CHECK (points > 0),
    -- The money the points were worth when given (the program's point value then).
    amount_minor  INTEGER NOT NULL CHECK (amount_minor >= 0),
    created_at_us INTEGER NOT NULL
);
CREATE INDEX donations_charity ON donations (charity_id, seq);
CREATE INDEX donations_member ON donations (member_id, seq);

CREATE TABLE charity_settlements (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    charity_id    TEXT NOT NULL REFERENCES charities(id),
    amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
    reference     TEXT NOT NULL,
    settled_on    TEXT NOT NULL,
    actor         TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX charity_settlements_charity ON charity_settlements (charity_id, seq);

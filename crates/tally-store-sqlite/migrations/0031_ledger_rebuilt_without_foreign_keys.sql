-- Transfers and purchases stop checking their references to accounts, programs and members, as
-- PostgreSQL's migration 0030 did, and accounts are stored by their id (WITHOUT ROWID).
-- Each check was an index lookup per row: four for a purchase and its transfer, about a fifth of
-- the b-tree seeks an imported purchase costs. The ids are derived by the code that inserts them,
-- accounts, programs and members are never deleted, and the invariant check
-- (`tally-core::invariants`) confirms that every transfer moves points between known accounts.
-- A rowid table keyed by text finds a row through two b-trees (its key's index, then the row);
-- WITHOUT ROWID, through one: a purchase reads two member accounts and updates one.
--
-- SQLite changes a constraint by rebuilding the table (its "12-step" procedure): the migration
-- runner turns foreign key enforcement off around migrations and checks every foreign key
-- before each commits. purchase_lines and purchase_returns refer to purchases by name, so they
-- refer to the rebuilt table.

CREATE TABLE transfers_rebuilt (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    program_id        TEXT NOT NULL,
    member_id         TEXT NOT NULL,
    kind              TEXT NOT NULL,
    debit_account_id  TEXT NOT NULL,
    credit_account_id TEXT NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    balance_after     INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    occurred_at_us    INTEGER NOT NULL,
    recorded_at_us    INTEGER NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
);
INSERT INTO transfers_rebuilt (seq, id, program_id, member_id, kind, debit_account_id,
        credit_account_id, amount, balance_after, reason, occurred_at_us, recorded_at_us)
    SELECT seq, id, program_id, member_id, kind, debit_account_id, credit_account_id, amount,
        balance_after, reason, occurred_at_us, recorded_at_us
    FROM transfers;
DROP TABLE transfers;
ALTER TABLE transfers_rebuilt RENAME TO transfers;
CREATE INDEX transfers_member ON transfers (member_id, seq, kind, amount, occurred_at_us);
CREATE INDEX transfers_program_seq ON transfers (program_id, seq);
CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;

CREATE TABLE accounts_rebuilt (
    id         TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES programs(id),
    member_id  TEXT REFERENCES members(id),
    kind       TEXT NOT NULL,
    balance    INTEGER,
    CHECK ((member_id IS NULL) = (balance IS NULL))
) WITHOUT ROWID;
INSERT INTO accounts_rebuilt (id, program_id, member_id, kind, balance)
    SELECT id, program_id, member_id, kind, balance FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_rebuilt RENAME TO accounts;
CREATE UNIQUE INDEX accounts_member_kind ON accounts (member_id, kind) WHERE member_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_program_kind ON accounts (program_id, kind) WHERE member_id IS NULL;

CREATE TABLE purchases_rebuilt (
    seq                     INTEGER PRIMARY KEY,
    id                      TEXT NOT NULL UNIQUE,
    tenant_id               TEXT NOT NULL,
    program_id              TEXT NOT NULL,
    member_id               TEXT NOT NULL,
    order_id                TEXT NOT NULL,
    total_minor             INTEGER NOT NULL,
    currency                TEXT NOT NULL,
    channel                 TEXT NOT NULL,
    location_id             TEXT,
    points_earned           INTEGER NOT NULL,
    points_reversed         INTEGER NOT NULL,
    returned_minor          INTEGER NOT NULL,
    content_sha256          TEXT NOT NULL,
    answer                  TEXT NOT NULL,
    occurred_at_us          INTEGER NOT NULL,
    recorded_at_us          INTEGER NOT NULL,
    pending_release_at_us   INTEGER,
    pending_points          INTEGER NOT NULL DEFAULT 0 CHECK (pending_points >= 0),
    cashback_minor          INTEGER NOT NULL DEFAULT 0,
    cashback_reversed_minor INTEGER NOT NULL DEFAULT 0,
    UNIQUE (program_id, order_id),
    CHECK (returned_minor <= total_minor AND points_reversed <= points_earned)
);
INSERT INTO purchases_rebuilt (seq, id, tenant_id, program_id, member_id, order_id, total_minor,
        currency, channel, location_id, points_earned, points_reversed, returned_minor,
        content_sha256, answer, occurred_at_us, recorded_at_us, pending_release_at_us,
        pending_points, cashback_minor, cashback_reversed_minor)
    SELECT seq, id, tenant_id, program_id, member_id, order_id, total_minor, currency, channel,
        location_id, points_earned, points_reversed, returned_minor, content_sha256, answer,
        occurred_at_us, recorded_at_us, pending_release_at_us, pending_points, cashback_minor,
        cashback_reversed_minor
    FROM purchases;
DROP TABLE purchases;
ALTER TABLE purchases_rebuilt RENAME TO purchases;
CREATE INDEX purchases_member ON purchases (member_id, seq);
CREATE INDEX purchases_program_time ON purchases (program_id, occurred_at_us, member_id, total_minor, returned_minor);
CREATE INDEX purchases_pending_due ON purchases (program_id, pending_release_at_us) WHERE pending_points > 0;

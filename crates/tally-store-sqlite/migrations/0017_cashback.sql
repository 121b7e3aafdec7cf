-- Cashback (see tally-core/src/usecases/cashback.rs): a money wallet per member in minor units
-- of the program's currency, in the same double-entry ledger as points. Each member's
-- `member_cashback` account is made at its first credit; the program's `cashback_issuance`
-- gives cashback and `cashback_spent` takes what members pay with. A purchase keeps the cashback
-- it earned, so a return takes back its share; payments from cashback are kept per order.

INSERT INTO accounts (id, program_id, member_id, kind, balance)
SELECT id || ':cashback_issuance', id, NULL, 'cashback_issuance', NULL FROM programs
WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE accounts.id = programs.id || ':cashback_issuance');
INSERT INTO accounts (id, program_id, member_id, kind, balance)
SELECT id || ':cashback_spent', id, NULL, 'cashback_spent', NULL FROM programs
WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE accounts.id = programs.id || ':cashback_spent');

ALTER TABLE purchases ADD COLUMN cashback_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE purchases ADD COLUMN cashback_reversed_minor INTEGER NOT NULL DEFAULT 0;

CREATE TABLE cashback_payments (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    program_id     TEXT NOT NULL REFERENCES programs(id),
    member_id      TEXT NOT NULL REFERENCES members(id),
    order_id       TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    status         TEXT NOT NULL CHECK (status IN ('paid', 'refunded')),
    created_at_us  INTEGER NOT NULL,
    refunded_at_us INTEGER,
    UNIQUE (program_id, order_id)
);
CREATE INDEX cashback_payments_member ON cashback_payments (member_id, seq);

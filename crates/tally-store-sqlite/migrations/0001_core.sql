-- Tally core schema (SQLite). Times are integer microseconds since the Unix epoch (`*_at_us`),
-- money is integer minor units, JSON is text. `seq` columns give a stable insertion order for
-- cursor pagination; `id` columns are the public prefixed ids.

CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at_us INTEGER NOT NULL,
    revoked_at_us INTEGER
);

CREATE TABLE programs (
    seq                   INTEGER PRIMARY KEY,
    id                    TEXT NOT NULL UNIQUE,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    name                  TEXT NOT NULL,
    points_name           TEXT NOT NULL,
    currency              TEXT NOT NULL,
    time_zone             TEXT NOT NULL,
    points_per_unit_milli INTEGER NOT NULL,
    rounding              TEXT NOT NULL,
    excluded_categories   TEXT NOT NULL,
    min_order_minor       INTEGER NOT NULL,
    negative_balance      TEXT NOT NULL,
    created_at_us         INTEGER NOT NULL
);
CREATE INDEX programs_tenant ON programs (tenant_id, seq);

CREATE TABLE persons (
    id             TEXT PRIMARY KEY,
    email          TEXT UNIQUE,
    phone          TEXT UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    phone_verified INTEGER NOT NULL DEFAULT 0,
    created_at_us  INTEGER NOT NULL
);

CREATE TABLE members (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    tenant_id         TEXT NOT NULL,
    program_id        TEXT NOT NULL REFERENCES programs(id),
    person_id         TEXT NOT NULL REFERENCES persons(id),
    external_id       TEXT,
    name              TEXT,
    email             TEXT,
    phone             TEXT,
    birthday          TEXT,
    locale            TEXT,
    time_zone         TEXT,
    preferred_channel TEXT,
    attributes        TEXT NOT NULL,
    tags              TEXT NOT NULL,
    status            TEXT NOT NULL,
    card_number       TEXT NOT NULL,
    card_token        TEXT NOT NULL UNIQUE,
    enrolled_at_us    INTEGER NOT NULL,
    updated_at_us     INTEGER NOT NULL,
    UNIQUE (program_id, external_id),
    UNIQUE (program_id, card_number)
);
CREATE INDEX members_program ON members (program_id, seq);
CREATE INDEX members_email ON members (program_id, email);
CREATE INDEX members_phone ON members (program_id, phone);
CREATE INDEX members_person ON members (person_id);

CREATE TABLE consents (
    member_id     TEXT NOT NULL REFERENCES members(id),
    channel       TEXT NOT NULL,
    granted       INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL,
    source        TEXT NOT NULL,
    PRIMARY KEY (member_id, channel)
);

CREATE TABLE locations (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL,
    program_id      TEXT NOT NULL REFERENCES programs(id),
    name            TEXT NOT NULL,
    address         TEXT,
    latitude_micro  INTEGER NOT NULL,
    longitude_micro INTEGER NOT NULL,
    time_zone       TEXT,
    active          INTEGER NOT NULL,
    created_at_us   INTEGER NOT NULL
);
CREATE INDEX locations_program ON locations (program_id, seq);

-- Member accounts keep a cached balance; program accounts (member_id NULL) keep none, so no row
-- is locked by every purchase.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES programs(id),
    member_id  TEXT REFERENCES members(id),
    kind       TEXT NOT NULL,
    balance    INTEGER,
    CHECK ((member_id IS NULL) = (balance IS NULL))
);
CREATE UNIQUE INDEX accounts_member_kind ON accounts (member_id, kind) WHERE member_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_program_kind ON accounts (program_id, kind) WHERE member_id IS NULL;

CREATE TABLE transfers (
    seq               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    program_id        TEXT NOT NULL,
    member_id         TEXT NOT NULL,
    kind              TEXT NOT NULL,
    debit_account_id  TEXT NOT NULL REFERENCES accounts(id),
    credit_account_id TEXT NOT NULL REFERENCES accounts(id),
    amount            INTEGER NOT NULL CHECK (amount > 0),
    balance_after     INTEGER NOT NULL,
    reason            TEXT NOT NULL,
    occurred_at_us    INTEGER NOT NULL,
    recorded_at_us    INTEGER NOT NULL,
    CHECK (debit_account_id <> credit_account_id)
);
CREATE INDEX transfers_member ON transfers (member_id, seq);
CREATE INDEX transfers_program_kind ON transfers (program_id, kind);
CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;

CREATE TABLE purchases (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL,
    program_id      TEXT NOT NULL REFERENCES programs(id),
    member_id       TEXT NOT NULL REFERENCES members(id),
    order_id        TEXT NOT NULL,
    total_minor     INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    location_id     TEXT,
    points_earned   INTEGER NOT NULL,
    points_reversed INTEGER NOT NULL,
    returned_minor  INTEGER NOT NULL,
    content_sha256  TEXT NOT NULL,
    answer          TEXT NOT NULL,
    occurred_at_us  INTEGER NOT NULL,
    recorded_at_us  INTEGER NOT NULL,
    UNIQUE (program_id, order_id),
    CHECK (returned_minor <= total_minor AND points_reversed <= points_earned)
);
CREATE INDEX purchases_member ON purchases (member_id, seq);

CREATE TABLE purchase_lines (
    purchase_id       TEXT NOT NULL REFERENCES purchases(id),
    line_no           INTEGER NOT NULL,
    sku               TEXT NOT NULL,
    name              TEXT,
    category          TEXT,
    brand             TEXT,
    quantity          INTEGER NOT NULL,
    unit_price_minor  INTEGER NOT NULL,
    returned_quantity INTEGER NOT NULL,
    PRIMARY KEY (purchase_id, line_no),
    CHECK (returned_quantity <= quantity)
);

CREATE TABLE returns (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    purchase_id        TEXT NOT NULL REFERENCES purchases(id),
    returned_minor     INTEGER NOT NULL,
    points_reversed    INTEGER NOT NULL,
    unrecovered_points INTEGER NOT NULL,
    occurred_at_us     INTEGER NOT NULL,
    recorded_at_us     INTEGER NOT NULL
);
CREATE INDEX returns_purchase ON returns (purchase_id);

CREATE TABLE rewards (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL,
    program_id       TEXT NOT NULL REFERENCES programs(id),
    name             TEXT NOT NULL,
    description      TEXT,
    cost             INTEGER NOT NULL CHECK (cost > 0),
    stock_remaining  INTEGER CHECK (stock_remaining >= 0),
    active_from_us   INTEGER,
    active_until_us  INTEGER,
    per_member_limit INTEGER,
    active           INTEGER NOT NULL,
    created_at_us    INTEGER NOT NULL
);
CREATE INDEX rewards_program ON rewards (program_id, seq);

-- How many times a member has claimed a reward (not counting cancelled redemptions): the
-- per-member limit is a conditional write on this row.
CREATE TABLE reward_claims (
    member_id TEXT NOT NULL,
    reward_id TEXT NOT NULL,
    claimed   INTEGER NOT NULL CHECK (claimed >= 0),
    PRIMARY KEY (member_id, reward_id)
);

CREATE TABLE redemptions (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    member_id     TEXT NOT NULL REFERENCES members(id),
    reward_id     TEXT NOT NULL REFERENCES rewards(id),
    reward_name   TEXT NOT NULL,
    cost          INTEGER NOT NULL,
    code          TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    UNIQUE (program_id, code)
);
CREATE INDEX redemptions_member ON redemptions (member_id, seq);

-- Idempotency keys, kept 24 hours: the stored outcome (success or error) is the answer to a retry.
CREATE TABLE idempotency_keys (
    tenant_id      TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    created_at_us  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at_us);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    detail    TEXT NOT NULL,
    at_us     INTEGER NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);

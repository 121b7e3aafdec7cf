-- The console: operator accounts, their one-time links and sessions; member search terms; the
-- program totals snapshot and the indexes the dashboard's period queries need.

-- Operators run a tenant's programs in the console. The password hash is an argon2id PHC string,
-- NULL until the operator sets one (through an invite link).
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'cashier')),
    password_hash TEXT,
    locale        TEXT NOT NULL,
    active        INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX operators_tenant ON operators (tenant_id, email);

-- One-time links (sign-in, invite): only a SHA-256 of the 256-bit token is kept; using one is a
-- conditional update on used_at_us, so a link works once even when clicked twice at once.
CREATE TABLE operator_links (
    token_sha256  TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL REFERENCES operators(id),
    purpose       TEXT NOT NULL CHECK (purpose IN ('sign_in', 'invite')),
    created_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    used_at_us    INTEGER
);

-- Console sessions: the cookie holds a 256-bit token, the table its SHA-256; each session has its
-- own CSRF token that every form carries.
CREATE TABLE operator_sessions (
    token_sha256  TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL REFERENCES operators(id),
    csrf_token    TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    ended_at_us   INTEGER
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- Folded words of a member's name and email (tally-domain's search.rs), matched by prefix.
CREATE TABLE member_search_terms (
    program_id TEXT NOT NULL,
    term       TEXT NOT NULL,
    member_id  TEXT NOT NULL REFERENCES members(id),
    PRIMARY KEY (program_id, term, member_id)
);
CREATE INDEX member_search_terms_member ON member_search_terms (member_id);

-- Covers the dashboard's period queries (counts, revenue, active members) without table reads.
CREATE INDEX purchases_program_time ON purchases (program_id, occurred_at_us, member_id, total_minor, returned_minor);
CREATE INDEX members_program_enrolled ON members (program_id, enrolled_at_us);
-- The member list filtered by status, in order, without walking the other statuses.
CREATE INDEX members_program_status ON members (program_id, status, seq);
CREATE INDEX redemptions_program_time ON redemptions (program_id, created_at_us);

-- Program totals: the sums of a program's transfers per kind up to `up_to_seq`, so the totals
-- are this snapshot plus the (few) transfers after it, not a scan of the whole history. Advanced
-- by housekeeping, never by a purchase: no row here is touched by every write.
CREATE TABLE program_flow_totals (
    program_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    to_members INTEGER NOT NULL,
    to_program INTEGER NOT NULL,
    up_to_seq  INTEGER NOT NULL,
    PRIMARY KEY (program_id, kind)
);

-- Every query of a program's transfers is by program and order (export, audit, the totals after
-- a snapshot); (program_id, seq) serves them all, where (program_id, kind) served only the scan.
DROP INDEX transfers_program_kind;
CREATE INDEX transfers_program_seq ON transfers (program_id, seq);

-- How a program shows itself: the card's colour and logo (a small image as a data URL, so a
-- single binary and database hold everything), and what one point is worth in money (for the
-- liability on the dashboard; thousandths of a minor unit).
CREATE TABLE program_display (
    program_id         TEXT PRIMARY KEY REFERENCES programs(id),
    card_color         TEXT NOT NULL,
    logo_data_url      TEXT,
    point_value_milli  INTEGER NOT NULL
);

-- The member wallet: a person signs in with a one-time code sent to their email. One live code
-- per email; a wrong code counts an attempt, and five attempts use the code up. Only a SHA-256
-- of the email and the code is kept.
CREATE TABLE wallet_codes (
    email         TEXT PRIMARY KEY,
    code_sha256   TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    used_at_us    INTEGER
);

-- Wallet sessions belong to a person (all their cards, across tenants).
CREATE TABLE wallet_sessions (
    token_sha256  TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES persons(id),
    csrf_token    TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    ended_at_us   INTEGER
);
CREATE INDEX wallet_sessions_person ON wallet_sessions (person_id);

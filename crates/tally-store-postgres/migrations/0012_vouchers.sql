-- Voucher codes (see tally-core/src/usecases/vouchers.rs): pools with their terms, each pool's
-- single-use codes, and failed look-ups counted per API key, member and client address so that
-- guessing codes is locked out.

CREATE TABLE voucher_pools (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    name          TEXT NOT NULL,
    description   TEXT,
    -- tally_domain::vouchers::Terms as JSON: the discount, minimum basket, categories, window.
    terms         TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL
);
CREATE INDEX voucher_pools_program ON voucher_pools (program_id, seq);

-- A code is unique in its program (a till sends only the code). `code` is the canonical form
-- (upper case, no spaces or hyphens), `shown` the form printed on the voucher.
CREATE TABLE voucher_codes (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id     TEXT NOT NULL,
    code           TEXT NOT NULL,
    shown          TEXT NOT NULL,
    pool_id        TEXT NOT NULL,
    -- A personal code: only this member may use it.
    member_id      TEXT,
    status         TEXT NOT NULL CHECK (status IN ('available', 'redeemed')),
    order_id       TEXT,
    discount_minor BIGINT,
    redeemed_at_us BIGINT,
    created_at_us  BIGINT NOT NULL,
    UNIQUE (program_id, code),
    CHECK ((status = 'redeemed') = (order_id IS NOT NULL))
);
CREATE INDEX voucher_codes_pool ON voucher_codes (pool_id, seq);
-- Codes still free to hand to a member (personal codes), first issued first.
CREATE INDEX voucher_codes_unassigned ON voucher_codes (pool_id, seq)
    WHERE member_id IS NULL AND status = 'available';
CREATE INDEX voucher_codes_member ON voucher_codes (member_id) WHERE member_id IS NOT NULL;

-- Failed look-ups per subject (`key:…`, `member:…`, `address:…`) per fixed window.
CREATE TABLE voucher_failures (
    subject         TEXT NOT NULL,
    window_start_us BIGINT NOT NULL,
    failures        BIGINT NOT NULL,
    PRIMARY KEY (subject, window_start_us)
);

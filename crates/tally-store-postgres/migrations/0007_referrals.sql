-- Referrals (see tally-core/src/referrals.rs): a program's policy, every member's code, and
-- each referral with where it stands.

CREATE TABLE referral_policies (
    program_id    TEXT PRIMARY KEY REFERENCES programs(id),
    document      TEXT NOT NULL,
    updated_at_us BIGINT NOT NULL
);

CREATE TABLE referral_codes (
    code       TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL UNIQUE REFERENCES members(id),
    program_id TEXT NOT NULL
);
-- Members enrolled before referrals existed get a random code too.
INSERT INTO referral_codes (code, member_id, program_id) SELECT upper(substr(md5(random()::text || id), 1, 10)), id, program_id FROM members;

-- pending: enrolled, no qualifying purchase yet; qualified: the purchase waits out its return
-- window; rewarded: both were given their points; void: not rewarded (see note).
CREATE TABLE referrals (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    program_id    TEXT NOT NULL,
    referrer_id   TEXT NOT NULL REFERENCES members(id),
    referred_id   TEXT NOT NULL UNIQUE REFERENCES members(id),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'qualified', 'rewarded', 'void')),
    purchase_id   TEXT,
    note          TEXT,
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL
);
CREATE INDEX referrals_referrer ON referrals (referrer_id, seq);
CREATE INDEX referrals_purchase ON referrals (purchase_id);
CREATE INDEX referrals_program ON referrals (program_id, status);

-- Offers and deals (see tally-domain/src/offers.rs and tally-core/src/usecases/offers.rs): a
-- definition (JSON) with the counters its limits are checked against in conditional writes;
-- members' activations (with a loyalty deal's progress); and each use, naming the purchase.

CREATE TABLE offers (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    name          TEXT NOT NULL,
    description   TEXT,
    definition    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'paused', 'ended')),
    starts_at_us  BIGINT,
    ends_at_us    BIGINT,
    max_uses      BIGINT,
    budget        BIGINT,
    uses          BIGINT NOT NULL DEFAULT 0,
    spent         BIGINT NOT NULL DEFAULT 0,
    created_at_us BIGINT NOT NULL,
    CHECK (max_uses IS NULL OR uses <= max_uses),
    CHECK (budget IS NULL OR spent <= budget)
);
CREATE INDEX offers_program ON offers (program_id, seq);

CREATE TABLE offer_activations (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id          TEXT NOT NULL REFERENCES offers(id),
    member_id         TEXT NOT NULL,
    activated_at_us   BIGINT NOT NULL,
    uses              BIGINT NOT NULL DEFAULT 0,
    -- A loyalty deal: qualifying purchases counted towards the next use, since when.
    progress          BIGINT NOT NULL DEFAULT 0,
    progress_since_us BIGINT,
    UNIQUE (offer_id, member_id)
);
CREATE INDEX offer_activations_member ON offer_activations (member_id);

CREATE TABLE offer_uses (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    offer_id      TEXT NOT NULL REFERENCES offers(id),
    member_id     TEXT NOT NULL,
    purchase_id   TEXT NOT NULL,
    points        BIGINT NOT NULL CHECK (points >= 0),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor >= 0),
    charity_id    TEXT,
    created_at_us BIGINT NOT NULL,
    UNIQUE (offer_id, purchase_id)
);
CREATE INDEX offer_uses_offer ON offer_uses (offer_id, seq);
CREATE INDEX offer_uses_charity ON offer_uses (charity_id) WHERE charity_id IS NOT NULL;

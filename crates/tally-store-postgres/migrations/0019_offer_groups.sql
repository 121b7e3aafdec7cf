-- Friend deals (see tally-core/src/usecases/offer_groups.rs): a member starts a group for an
-- offer and shares its code; when `size` members of the program have joined within the window,
-- the offer is activated for all of them. `joined` is the counter a join takes a place from.

CREATE TABLE offer_groups (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    offer_id       TEXT NOT NULL REFERENCES offers(id),
    program_id     TEXT NOT NULL REFERENCES programs(id),
    initiator_id   TEXT NOT NULL REFERENCES members(id),
    code           TEXT NOT NULL UNIQUE,
    size           BIGINT NOT NULL CHECK (size >= 2),
    joined         BIGINT NOT NULL DEFAULT 1,
    created_at_us  BIGINT NOT NULL,
    expires_at_us  BIGINT NOT NULL,
    unlocked_at_us BIGINT,
    CHECK (joined <= size)
);
CREATE INDEX offer_groups_offer ON offer_groups (offer_id, seq);

CREATE TABLE offer_group_members (
    group_id     TEXT NOT NULL REFERENCES offer_groups(id),
    offer_id     TEXT NOT NULL,
    member_id    TEXT NOT NULL REFERENCES members(id),
    joined_at_us BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX offer_group_members_member ON offer_group_members (member_id, offer_id);

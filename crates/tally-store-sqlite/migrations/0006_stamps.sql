-- Stamp cards (see tally-core/src/stamps.rs). A card's definition is a JSON document
-- (tally-domain StampCardDoc); a member's progress is one row per card; every stamp given or
-- taken back is an event; the store's rotating QR codes are each good for one stamp.

CREATE TABLE stamp_cards (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    document      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX stamp_cards_program ON stamp_cards (program_id, seq);

-- Stamps toward the next completion, and how many times the card was completed.
CREATE TABLE member_stamps (
    card_id       TEXT NOT NULL REFERENCES stamp_cards(id),
    member_id     TEXT NOT NULL REFERENCES members(id),
    stamps        INTEGER NOT NULL CHECK (stamps >= 0),
    completions   INTEGER NOT NULL CHECK (completions >= 0),
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (card_id, member_id)
);
CREATE INDEX member_stamps_member ON member_stamps (member_id);

-- Positive stamps were given (by a purchase, the cashier, a QR code or a rule); negative ones were
-- taken back by a return. A purchase stamps a card at most once.
CREATE TABLE stamp_events (
    seq            INTEGER PRIMARY KEY,
    card_id        TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('purchase', 'cashier', 'qr', 'rule', 'return')),
    stamps         INTEGER NOT NULL CHECK (stamps <> 0),
    completions    INTEGER NOT NULL,
    purchase_id    TEXT,
    location_id    TEXT,
    code           TEXT,
    actor          TEXT NOT NULL,
    note           TEXT,
    occurred_at_us INTEGER NOT NULL,
    recorded_at_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX stamp_events_purchase ON stamp_events (card_id, purchase_id) WHERE source = 'purchase';
CREATE INDEX stamp_events_member ON stamp_events (member_id, card_id, occurred_at_us);

CREATE TABLE stamp_codes (
    code          TEXT PRIMARY KEY,
    program_id    TEXT NOT NULL,
    card_id       TEXT NOT NULL,
    location_id   TEXT NOT NULL,
    issued_at_us  INTEGER NOT NULL,
    expires_at_us INTEGER NOT NULL,
    used_by       TEXT,
    used_at_us    INTEGER
);
CREATE INDEX stamp_codes_display ON stamp_codes (card_id, location_id, issued_at_us);

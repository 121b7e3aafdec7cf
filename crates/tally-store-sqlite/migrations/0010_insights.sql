-- Customer insights (see tally-core/src/insights.rs): each program's last run of the models and
-- each member's numbers from it. Probabilities are stored in parts per million and money in
-- minor units, so the columns that lists and segments filter on stay integers; `details` holds
-- everything as the API shows it.

CREATE TABLE program_insights (
    program_id       TEXT PRIMARY KEY REFERENCES programs(id),
    -- A run in progress holds the program until then, so two nodes never run it at once.
    claimed_until_us INTEGER NOT NULL,
    computed_at_us   INTEGER,
    summary          TEXT
);

CREATE TABLE member_insights (
    member_id        TEXT PRIMARY KEY REFERENCES members(id),
    program_id       TEXT NOT NULL REFERENCES programs(id),
    computed_at_us   INTEGER NOT NULL,
    lifecycle        TEXT,
    rfm_segment      TEXT,
    vip              INTEGER NOT NULL,
    p_alive_ppm      INTEGER,
    churn_risk_ppm   INTEGER,
    clv_minor        INTEGER,
    value_percentile INTEGER,
    best_send_hour   INTEGER NOT NULL,
    -- The last two weeks' churn readings, "day:ppm" separated by spaces, for the weekly change.
    churn_history    TEXT NOT NULL,
    details          TEXT NOT NULL
);
CREATE INDEX member_insights_stage ON member_insights (program_id, lifecycle, clv_minor);

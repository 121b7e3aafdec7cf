-- Web push (issue 7, see tally-core/src/usecases/push.rs): a member's browsers that agreed to
-- notifications, each with the endpoint of its push service and the keys its messages are
-- encrypted for (RFC 8291). A push service that answers 404 or 410 has dropped the
-- subscription: `gone_at_us` is set and it is not used again. `server_keys` holds what every
-- node must share, such as the VAPID key pair browsers subscribe against.

CREATE TABLE push_subscriptions (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    member_id     TEXT NOT NULL REFERENCES members(id),
    endpoint      TEXT NOT NULL,
    p256dh        TEXT NOT NULL,
    auth          TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    gone_at_us    BIGINT
);
CREATE UNIQUE INDEX push_subscriptions_endpoint ON push_subscriptions (member_id, endpoint);

CREATE TABLE server_keys (
    name          TEXT PRIMARY KEY,
    value         TEXT NOT NULL,
    created_at_us BIGINT NOT NULL
);

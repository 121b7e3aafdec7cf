-- The tier's qualifying value (points earned in the window) is summed over a member's transfers
-- on every purchase of a program with tiers. With the kind, amount and time in the member's
-- index the sum can read the index alone (on pages the visibility map marks all-visible)
-- instead of fetching each transfer's row; the member's history still walks the index by seq.
DROP INDEX transfers_member;
CREATE INDEX transfers_member ON transfers (member_id, seq) INCLUDE (kind, amount, occurred_at_us);

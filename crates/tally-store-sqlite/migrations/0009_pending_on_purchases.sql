-- Pending points move onto the purchase row that earned them (see tally-core/src/pending.rs):
-- a purchase in a program with a return window writes its own row anyway, so keeping its
-- pending points there costs two small partial indexes instead of a table with three indexes
-- and a statement of its own. `pending_points` is what the purchase still has pending (its
-- `points_earned` less what a return took back or the release job moved on); 0 once released.

ALTER TABLE purchases ADD COLUMN pending_release_at_us INTEGER;
ALTER TABLE purchases ADD COLUMN pending_points INTEGER NOT NULL DEFAULT 0 CHECK (pending_points >= 0);

UPDATE purchases SET pending_release_at_us = pp.release_at_us, pending_points = pp.remaining
FROM pending_points pp WHERE pp.purchase_id = purchases.id;

DROP TABLE pending_points;

CREATE INDEX purchases_pending_member ON purchases (member_id, pending_release_at_us) WHERE pending_points > 0;
CREATE INDEX purchases_pending_due ON purchases (program_id, pending_release_at_us) WHERE pending_points > 0;

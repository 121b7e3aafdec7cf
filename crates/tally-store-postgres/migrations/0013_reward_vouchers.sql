-- A reward can hand out a voucher: redeeming it gives the member the pool's next free code (a
-- personal code), and the redemption keeps which code it gave.
ALTER TABLE rewards ADD COLUMN voucher_pool_id TEXT;
ALTER TABLE redemptions ADD COLUMN voucher_code TEXT;

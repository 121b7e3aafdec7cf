-- A tier benefit: rewards only members of some tiers may redeem (a JSON array of tier names;
-- empty: everyone).
ALTER TABLE rewards ADD COLUMN tiers TEXT NOT NULL DEFAULT '[]';

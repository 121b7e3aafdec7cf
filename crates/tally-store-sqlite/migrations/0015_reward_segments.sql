-- A reward can be kept for members of some segments (keys, as JSON): only they may redeem it.
ALTER TABLE rewards ADD COLUMN segments TEXT NOT NULL DEFAULT '[]';

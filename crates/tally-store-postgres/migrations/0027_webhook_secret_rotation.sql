-- A rotated webhook secret (issue 7): the previous secret keeps signing, next to the new one,
-- for a day, so receivers can switch without refusing what is already on its way.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_until_us BIGINT;

-- Reward kinds and the fulfilment of physical rewards (see tally-domain/src/fulfilment.rs): a
-- reward's kind and product, and for a physical reward's redemption its fulfilment status (kept
-- apart so the queue of what to send is an index range) and its address and tracking (JSON).

ALTER TABLE rewards ADD COLUMN kind TEXT NOT NULL DEFAULT 'digital';
ALTER TABLE rewards ADD COLUMN sku TEXT;
ALTER TABLE redemptions ADD COLUMN fulfilment_status TEXT;
ALTER TABLE redemptions ADD COLUMN fulfilment TEXT;
CREATE INDEX redemptions_fulfilment ON redemptions (program_id, fulfilment_status, seq)
    WHERE fulfilment_status IS NOT NULL;

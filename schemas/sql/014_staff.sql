-- The staff pages (issue 11): a Moodle import's credentials share a batch id, so the
-- publisher page can follow one import's delivery (GET /api/v1/credentials?batch=).
-- Credentials issued one at a time have none.

ALTER TABLE credentials ADD COLUMN batch uuid;
CREATE INDEX credentials_batch_idx ON credentials (batch) WHERE batch IS NOT NULL;

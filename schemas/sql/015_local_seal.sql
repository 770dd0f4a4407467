-- The local Europass adapter (--europass-adapter local): mcx seals each credential with
-- the institution's eSeal and keeps the sealed file (JAdES, JSON serialisation) for the
-- learner to download and add to their Europass wallet. Sealed by EDCI: NULL. Purged
-- with the learner's other data after the retention period.

ALTER TABLE credentials ADD COLUMN sealed text;
-- (outbox_finish_sealed, which records a sealed credential, is in 017_learner_notice.sql)

-- A learner's own credentials (GET /api/v1/me/credentials, the sealed file's download):
-- found by the e-mail address they were issued to.
CREATE INDEX credentials_learner_email_idx ON credentials (lower(learner_email))
    WHERE learner_email IS NOT NULL;

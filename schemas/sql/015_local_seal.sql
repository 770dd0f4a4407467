-- The local Europass adapter (--europass-adapter local): mcx seals each credential with
-- the institution's eSeal and keeps the sealed file (JAdES, JSON serialisation) for the
-- learner to download and add to their Europass wallet. Sealed by EDCI: NULL. Purged
-- with the learner's other data after the retention period.

ALTER TABLE credentials ADD COLUMN sealed text;

-- Records a credential sealed here: delivered (outbox_finish), with its sealed file.
-- false when the claim is no longer this node's (as outbox_finish).
CREATE FUNCTION outbox_finish_sealed(p_job bigint, p_attempt integer, p_node text,
                                     p_sealed text, p_europass jsonb)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    cid uuid;
BEGIN
    SELECT credential_id INTO cid FROM outbox WHERE id = p_job;
    IF NOT FOUND OR NOT outbox_finish(p_job, p_attempt, p_node, 'delivered', NULL, NULL,
                                      p_europass, 0) THEN
        RETURN false;
    END IF;
    UPDATE credentials SET sealed = p_sealed WHERE id = cid;
    RETURN true;
END
$$;

-- A learner's own credentials (GET /api/v1/me/credentials, the sealed file's download):
-- found by the e-mail address they were issued to.
CREATE INDEX credentials_learner_email_idx ON credentials (lower(learner_email))
    WHERE learner_email IS NOT NULL;

-- The local adapter seals credentials in mcx and sends nothing to Europass, so mcx
-- tells each learner by mail (--smtp-url) that their credential is ready and where to
-- download it; EDCI notifies the learners of what it delivers itself. One mail per
-- credential: due once sealed, claimed with a lease, tried again later when the relay
-- refuses it, at most 5 times.

ALTER TABLE credentials
    ADD COLUMN notice_due_at timestamptz,          -- when the mail is (next) due; NULL: none
    ADD COLUMN notice_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN notified_at timestamptz;            -- when the relay took it
CREATE INDEX credentials_notice_due_idx ON credentials (notice_due_at)
    WHERE notice_due_at IS NOT NULL;

-- Records a credential sealed here: delivered (outbox_finish), with its sealed file,
-- its learner's notice due. false when the claim is no longer this node's (as
-- outbox_finish).
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
    UPDATE credentials SET sealed = p_sealed, notice_due_at = now() WHERE id = cid;
    RETURN true;
END
$$;

-- The registry shows whether the learner was told.
CREATE OR REPLACE FUNCTION credentials_api_json(c credentials) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'offer_id', c.offer_id, 'institution', c.institution_id,
        'idempotency_key', c.idempotency_key, 'state', c.state, 'title', c.title,
        'learner', coalesce(c.learner, jsonb_build_object('name', c.learner_name, 'purged', true)),
        'result', c.result, 'attempts', c.attempts, 'last_error', c.last_error,
        'europass', c.europass,
        'delivered_at', recognition_time(c.delivered_at),
        'revoked_at', recognition_time(c.revoked_at), 'revoke_reason', c.revoke_reason,
        'reissue_of', c.reissue_of,
        'created_at', recognition_time(c.created_at), 'updated_at', recognition_time(c.updated_at),
        'verify_url', '/verify/' || c.id,
        'notified_at', recognition_time(c.notified_at),
        'notice_attempts', c.notice_attempts)
$$;

-- 012: issuance (issuance/*.c, DESIGN §4–§5). Credential templates, the registry of
-- issued credentials, and the durable outbox that hands each one to the Europass
-- issuer exactly once: the credential and its outbox job are one transaction;
-- workers on any node claim due jobs with SKIP LOCKED; every attempt is recorded.

-- Deliveries count for the impact figures next to searches and applications.
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('search', 'impression', 'view', 'application', 'issuance'));

CREATE TABLE credential_templates (
    id bigserial PRIMARY KEY,
    institution_id text NOT NULL REFERENCES institutions (id),
    offer_id uuid REFERENCES offers (id), -- NULL: the institution's default
    content jsonb NOT NULL,               -- canonical (issuance/builder.c)
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX credential_templates_offer_key ON credential_templates (offer_id)
    WHERE offer_id IS NOT NULL;
CREATE UNIQUE INDEX credential_templates_default_key ON credential_templates (institution_id)
    WHERE offer_id IS NULL;

CREATE TABLE credentials (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    institution_id text NOT NULL REFERENCES institutions (id),
    offer_id uuid NOT NULL REFERENCES offers (id),
    idempotency_key text NOT NULL,
    learner jsonb,                  -- given/family name, e-mail, birth date; NULL once purged
    learner_name text NOT NULL,     -- "Given Family": what verification shows, kept
    learner_email text,             -- for the registry's filter; NULL once purged
    result jsonb NOT NULL,          -- grade, ECTS, date
    title text NOT NULL,
    document text NOT NULL,         -- the ELM credential as built, sent as is
    state text NOT NULL
        CHECK (state IN ('queued', 'sending', 'delivered', 'failed', 'revoked')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    europass jsonb,                 -- what the issuer answered (viewer URLs)
    delivered_at timestamptz,
    revoked_at timestamptz,
    revoke_reason text,
    reissue_of uuid REFERENCES credentials (id),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (institution_id, idempotency_key)
);
CREATE INDEX credentials_offer_idx ON credentials (offer_id, created_at);
CREATE INDEX credentials_institution_idx ON credentials (institution_id, created_at);

-- One job per credential to send. A claim moves next_attempt_at a lease ahead; a
-- node that dies mid-send leaves the job to be claimed again when the lease ends,
-- and the resend carries the same credential id (the Idempotency-Key), which the
-- issuer side uses to answer without delivering twice.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    credential_id uuid NOT NULL UNIQUE REFERENCES credentials (id),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    claimed_by text,
    claimed_at timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at);

CREATE TABLE credential_attempts (
    id bigserial PRIMARY KEY,
    credential_id uuid NOT NULL REFERENCES credentials (id),
    attempt integer NOT NULL,
    node text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,        -- NULL: the node died before it knew the outcome
    http_status integer,
    outcome text CHECK (outcome IN ('delivered', 'retry', 'failed')),
    error text
);
CREATE INDEX credential_attempts_credential_idx ON credential_attempts (credential_id, id);

-- Claims up to p_limit due jobs for p_node: the job, its attempt number, the
-- credential document and learner (for the delivery details), and whether an
-- earlier attempt never finished (the issuer may have it already).
CREATE FUNCTION outbox_claim(p_node text, p_limit integer, p_lease_s integer)
RETURNS TABLE (job bigint, credential_id uuid, attempt integer, document text, learner jsonb,
               in_doubt boolean)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH c AS (
        UPDATE outbox o
           SET next_attempt_at = now() + make_interval(secs => p_lease_s),
               attempts = o.attempts + 1, claimed_by = p_node, claimed_at = now()
         WHERE o.id IN (SELECT x.id FROM outbox x WHERE x.next_attempt_at <= now()
                         ORDER BY x.next_attempt_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
        RETURNING o.id, o.credential_id, o.attempts),
    s AS (
        UPDATE credentials cr SET state = 'sending', attempts = c.attempts, updated_at = now()
          FROM c WHERE cr.id = c.credential_id
        RETURNING cr.id, cr.document, cr.learner),
    a AS (
        INSERT INTO credential_attempts (credential_id, attempt, node)
        SELECT c.credential_id, c.attempts, p_node FROM c)
    SELECT c.id, c.credential_id, c.attempts, s.document, s.learner,
           EXISTS (SELECT 1 FROM credential_attempts t
                    WHERE t.credential_id = c.credential_id AND t.finished_at IS NULL
                      AND t.attempt < c.attempts)
      FROM c JOIN s ON s.id = c.credential_id;
END
$$;

-- Records how attempt p_attempt of the job ended: 'delivered' (the job is done),
-- 'retry' (due again after p_retry_ms) or 'failed' (no more attempts). Only the
-- node holding the current claim may finish it; a stale finisher changes nothing.
CREATE FUNCTION outbox_finish(p_job bigint, p_attempt integer, p_node text, p_outcome text,
                              p_status integer, p_error text, p_europass jsonb,
                              p_retry_ms integer)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    o outbox;
BEGIN
    SELECT * INTO o FROM outbox WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR o.attempts <> p_attempt OR o.claimed_by IS DISTINCT FROM p_node THEN
        RETURN false;
    END IF;
    UPDATE credential_attempts SET finished_at = now(), http_status = p_status,
                                   outcome = p_outcome, error = p_error
     WHERE credential_id = o.credential_id AND attempt = p_attempt;
    IF p_outcome = 'retry' THEN
        UPDATE outbox SET next_attempt_at = now() + make_interval(secs => p_retry_ms / 1000.0),
                          claimed_by = NULL
         WHERE id = p_job;
        UPDATE credentials SET state = 'queued', last_error = p_error, updated_at = now()
         WHERE id = o.credential_id AND state = 'sending';
    ELSE
        DELETE FROM outbox WHERE id = p_job;
        UPDATE credentials
           SET state = CASE WHEN state = 'revoked' THEN state ELSE p_outcome END,
               last_error = CASE WHEN p_outcome = 'failed' THEN p_error END,
               europass = coalesce(p_europass, europass),
               delivered_at = CASE WHEN p_outcome = 'delivered' THEN now() END,
               updated_at = now()
         WHERE id = o.credential_id;
        INSERT INTO audit_log (actor, action, entity, entity_id, details)
        VALUES ('system', CASE WHEN p_outcome = 'delivered' THEN 'deliver' ELSE 'fail' END,
                'credential', o.credential_id::text,
                jsonb_build_object('attempts', p_attempt, 'status', p_status, 'error', p_error));
        IF p_outcome = 'delivered' THEN
            INSERT INTO events (at, kind, offer_id, institution_id, node)
            SELECT now(), 'issuance', c.offer_id, c.institution_id, p_node
              FROM credentials c WHERE c.id = o.credential_id;
        END IF;
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION credentials_api_json(c credentials) RETURNS jsonb
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
        'verify_url', '/verify/' || c.id)
$$;

-- Revokes a credential (any state but revoked): a queued one is never sent; a
-- delivered one is shown revoked to verifiers. (status, body) as the API answers.
CREATE FUNCTION credential_revoke(p_id uuid, p_role text, p_institution text, p_reason text,
                                  p_actor text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    c credentials;
BEGIN
    SELECT * INTO c FROM credentials WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR (p_role <> 'admin' AND c.institution_id <> p_institution) THEN
        RETURN QUERY SELECT 404, 'no credential ' || p_id;
        RETURN;
    END IF;
    IF c.state = 'revoked' THEN
        RETURN QUERY SELECT 409, 'the credential was revoked on ' || c.revoked_at::date;
        RETURN;
    END IF;
    DELETE FROM outbox WHERE credential_id = p_id;
    UPDATE credentials SET state = 'revoked', revoked_at = now(), revoke_reason = p_reason,
                           updated_at = now()
     WHERE id = p_id RETURNING * INTO c;
    INSERT INTO audit_log (actor, action, entity, entity_id, details)
    VALUES (p_actor, 'revoke', 'credential', p_id::text, jsonb_build_object('reason', p_reason));
    RETURN QUERY SELECT 200, credentials_api_json(c)::text;
END
$$;

-- 011: recognition (recognition/*.c, DESIGN §4–§5). Mutual recognition agreements
-- approved by hash, recognition requests with the rules engine's proposal, the
-- registrar's decision, one appeal, and the credit-transfer record a decision makes.
-- Transitions run in functions here, each under the request's row lock, so that
-- two registrars (or a registrar and the appealing student) cannot both win.

CREATE TABLE agreements (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- the canonical content (recognition/agreement.c): title, parties, dates, scope,
    -- rules, grade conversion; hash is the SHA-256 of its canonical text
    content jsonb NOT NULL,
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    parties text[] NOT NULL CHECK (cardinality(parties) >= 2),
    valid_from date NOT NULL,
    valid_until date,
    terminated_on date,
    version integer NOT NULL DEFAULT 1,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agreements_parties_idx ON agreements USING gin (parties);

-- A party's approval of one hash. An edit that changes the hash deletes them all
-- (recognition_agreement_update), as an EWP IIA's approvals lapse with its hash.
CREATE TABLE agreement_approvals (
    agreement_id uuid NOT NULL REFERENCES agreements (id) ON DELETE CASCADE,
    institution_id text NOT NULL REFERENCES institutions (id),
    hash text NOT NULL,
    approved_by uuid NOT NULL REFERENCES users (id),
    approved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agreement_id, institution_id)
);

-- Whether every party approved the current hash.
CREATE FUNCTION agreement_approved(a agreements) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM agreement_approvals p
             WHERE p.agreement_id = a.id AND p.hash = a.hash
               AND p.institution_id = ANY (a.parties)) = cardinality(a.parties)
$$;

-- draft until every party approved the current hash, then active; terminated from
-- its termination date on.
CREATE FUNCTION agreement_status(a agreements) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN a.terminated_on IS NOT NULL AND a.terminated_on <= current_date THEN 'terminated'
        WHEN agreement_approved(a) THEN 'active'
        ELSE 'draft' END
$$;

-- What the API shows of an agreement: its content plus id, hash, status, approvals.
CREATE FUNCTION agreements_api_json(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT a.content || jsonb_build_object(
               'id', a.id, 'hash', a.hash, 'status', agreement_status(a),
               'terminated_on', a.terminated_on, 'version', a.version,
               'approvals', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                         'institution', p.institution_id, 'hash', p.hash,
                                         'current', p.hash = a.hash,
                                         'at', to_char(p.approved_at AT TIME ZONE 'UTC',
                                                       'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                                         ORDER BY p.institution_id)
                                        FROM agreement_approvals p
                                       WHERE p.agreement_id = a.id), '[]'),
               'created_at', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'updated_at', to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
      FROM agreements a WHERE a.id = p_id
$$;

CREATE TABLE recognition_requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    student_id uuid NOT NULL REFERENCES users (id),
    target_institution text NOT NULL REFERENCES institutions (id),
    target_programme text,
    target_course text,
    credential_format text NOT NULL CHECK (credential_format IN ('elm3', 'elm2', 'registry')),
    credential_source text NOT NULL,   -- the document as the student sent it
    credential jsonb NOT NULL,         -- what was read of it (recognition/credential.c)
    issuer_id text REFERENCES institutions (id),
    offer_id uuid REFERENCES offers (id),
    status text NOT NULL CHECK (status IN ('submitted', 'proposed', 'decided', 'appealed')),
    proposal jsonb,
    decision jsonb,
    appeal jsonb,                      -- {"text","at"}: a student appeals once
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recognition_requests_queue_idx
    ON recognition_requests (target_institution, status, created_at);
CREATE INDEX recognition_requests_student_idx ON recognition_requests (student_id, created_at);

-- One per decided request: what the home institution records (and exports to its
-- student information system). A decision after an appeal replaces it.
CREATE TABLE credit_transfers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id uuid NOT NULL UNIQUE REFERENCES recognition_requests (id),
    student_id uuid NOT NULL REFERENCES users (id),
    institution_id text NOT NULL REFERENCES institutions (id),
    programme text,
    course text,
    outcome text NOT NULL
        CHECK (outcome IN ('recognised', 'partially_recognised', 'not_recognised')),
    credits numeric,
    grade text,
    agreement_id uuid REFERENCES agreements (id),
    credential jsonb NOT NULL,
    decided_by uuid NOT NULL REFERENCES users (id),
    decided_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_transfers_student_idx ON credit_transfers (student_id, decided_at);
CREATE INDEX credit_transfers_institution_idx ON credit_transfers (institution_id, decided_at);

CREATE FUNCTION recognition_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION recognition_request_json(r recognition_requests) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'status', r.status, 'student', r.student_id,
        'student_email', (SELECT u.email FROM users u WHERE u.id = r.student_id),
        'target', jsonb_build_object('institution', r.target_institution,
                                     'programme', r.target_programme, 'course', r.target_course),
        'credential', r.credential, 'credential_format', r.credential_format,
        'issuer', r.issuer_id, 'offer_id', r.offer_id,
        'proposal', r.proposal, 'decision', r.decision, 'appeal', r.appeal,
        'created_at', recognition_time(r.created_at),
        'updated_at', recognition_time(r.updated_at))
$$;

-- The registrar's decision: (status, JSON body). 404 for a request of another
-- institution (its id is not confirmed), 409 when the request is not waiting for a
-- decision, 422 when reasons are missing and the decision is not the proposal's
-- "recognised" (Lisbon Recognition Convention: the institution gives reasons).
CREATE FUNCTION recognition_decide(p_id uuid, p_registrar uuid, p_institution text,
                                   p_outcome text, p_credits numeric, p_grade text,
                                   p_reasons text, p_actor text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    r recognition_requests;
    prop jsonb;
    same boolean;
    dec jsonb;
BEGIN
    SELECT * INTO r FROM recognition_requests WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR r.target_institution IS DISTINCT FROM p_institution THEN
        RETURN QUERY SELECT 404, 'no recognition request ' || p_id || ' for ' || p_institution;
        RETURN;
    END IF;
    IF r.status NOT IN ('proposed', 'appealed') THEN
        RETURN QUERY SELECT 409, format('the request is %s: only a proposed or appealed request '
                                        'can be decided', r.status);
        RETURN;
    END IF;
    prop := r.proposal;
    same := p_outcome = 'recognised' AND prop->>'outcome' = 'recognised'
            AND p_credits IS NOT DISTINCT FROM (prop->>'credits')::numeric
            AND coalesce(p_grade, '') = coalesce(prop->>'grade', '');
    IF coalesce(btrim(p_reasons), '') = '' AND NOT same THEN
        RETURN QUERY SELECT 422, 'reasons are required unless the decision is the proposal''s '
                                 '"recognised" with its credits and grade';
        RETURN;
    END IF;
    dec := jsonb_build_object('outcome', p_outcome, 'credits', p_credits, 'grade', p_grade,
                              'reasons', nullif(btrim(coalesce(p_reasons, '')), ''),
                              'by', p_registrar, 'at', recognition_time(now()),
                              'after_appeal', r.status = 'appealed');
    UPDATE recognition_requests SET status = 'decided', decision = dec, updated_at = now()
     WHERE id = p_id RETURNING * INTO r;
    INSERT INTO credit_transfers (request_id, student_id, institution_id, programme, course,
                                  outcome, credits, grade, agreement_id, credential, decided_by)
    VALUES (r.id, r.student_id, r.target_institution, r.target_programme,
            coalesce(r.target_course, nullif(prop->>'course', '')), p_outcome, p_credits, p_grade,
            nullif(prop->>'agreement', '')::uuid, r.credential, p_registrar)
    ON CONFLICT (request_id) DO UPDATE
       SET outcome = EXCLUDED.outcome, credits = EXCLUDED.credits, grade = EXCLUDED.grade,
           course = EXCLUDED.course, decided_by = EXCLUDED.decided_by, decided_at = now();
    INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)
    VALUES (p_actor, 'decide', 'recognition_request', r.id::text,
            audit_hash(to_jsonb(r)), dec);
    RETURN QUERY SELECT 200, recognition_request_json(r)::text;
END
$$;

-- The student's one appeal of a decision: 404 for another student's request, 409
-- when it is not decided or was appealed before.
CREATE FUNCTION recognition_appeal(p_id uuid, p_student uuid, p_text text, p_actor text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    r recognition_requests;
BEGIN
    SELECT * INTO r FROM recognition_requests WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR r.student_id IS DISTINCT FROM p_student THEN
        RETURN QUERY SELECT 404, 'no recognition request ' || p_id;
        RETURN;
    END IF;
    IF r.appeal IS NOT NULL THEN
        RETURN QUERY SELECT 409, 'this request was appealed already: a decision can be '
                                 'appealed once';
        RETURN;
    END IF;
    IF r.status <> 'decided' THEN
        RETURN QUERY SELECT 409, format('the request is %s: only a decision can be appealed',
                                        r.status);
        RETURN;
    END IF;
    UPDATE recognition_requests
       SET status = 'appealed', updated_at = now(),
           appeal = jsonb_build_object('text', p_text, 'at', recognition_time(now()))
     WHERE id = p_id RETURNING * INTO r;
    INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)
    VALUES (p_actor, 'appeal', 'recognition_request', r.id::text, audit_hash(to_jsonb(r)),
            r.appeal);
    RETURN QUERY SELECT 200, recognition_request_json(r)::text;
END
$$;

-- Agreement writes: (status, body) as the API answers them. content, hash and the
-- columns come from recognition/agreement.c, which validated and canonicalised the
-- body; here: the parties and offers exist, the caller is a party (p_institution
-- NULL: an admin), and the state allows it.

-- Problems with a valid body that only the database can see, as one sentence, or NULL.
CREATE FUNCTION recognition_agreement_problem(p_content jsonb, p_parties text[]) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT 'parties: no institution ' || string_agg(x, ', ' ORDER BY x)
           FROM unnest(p_parties) x WHERE NOT EXISTS (SELECT 1 FROM institutions i WHERE i.id = x)
         HAVING count(*) > 0),
        (SELECT 'rules[' || (r.n - 1) || '].offer_id: no offer ' || (r.rule->>'offer_id')
           FROM jsonb_array_elements(p_content->'rules') WITH ORDINALITY r(rule, n)
          WHERE r.rule->>'recognise_as' = 'course'
            AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.id = (r.rule->>'offer_id')::uuid
                                                     AND o.deleted_at IS NULL)
          ORDER BY r.n LIMIT 1))
$$;

CREATE FUNCTION recognition_agreement_create(p_content jsonb, p_hash text, p_parties text[],
                                             p_from date, p_until date, p_actor text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    problem text := recognition_agreement_problem(p_content, p_parties);
    a agreements;
BEGIN
    IF problem IS NOT NULL THEN
        RETURN QUERY SELECT 422, problem;
        RETURN;
    END IF;
    INSERT INTO agreements (content, hash, parties, valid_from, valid_until, created_by)
    VALUES (p_content, p_hash, p_parties, p_from, p_until, p_actor) RETURNING * INTO a;
    INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)
    VALUES (p_actor, 'create', 'agreement', a.id::text, a.hash,
            jsonb_build_object('parties', a.parties, 'title', a.content->>'title'));
    RETURN QUERY SELECT 201, agreements_api_json(a.id)::text;
END
$$;

-- The agreement locked for a write by p_institution (NULL: an admin), or the reply.
CREATE FUNCTION recognition_agreement_lock(p_id uuid, p_institution text, OUT a agreements,
                                           OUT status integer, OUT body text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO a FROM agreements x WHERE x.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        status := 404;
        body := 'no agreement ' || p_id;
    ELSIF p_institution IS NOT NULL AND NOT p_institution = ANY (a.parties) THEN
        status := 403;
        body := p_institution || ' is not a party to this agreement';
    ELSIF a.terminated_on IS NOT NULL THEN
        status := 409;
        body := 'the agreement is terminated (from ' || a.terminated_on || ')';
    END IF;
END
$$;

CREATE FUNCTION recognition_agreement_update(p_id uuid, p_content jsonb, p_hash text,
                                             p_parties text[], p_from date, p_until date,
                                             p_institution text, p_actor text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    l record := recognition_agreement_lock(p_id, p_institution);
    problem text;
    voided integer := 0;
BEGIN
    IF l.status IS NOT NULL THEN
        RETURN QUERY SELECT l.status, l.body;
        RETURN;
    END IF;
    problem := recognition_agreement_problem(p_content, p_parties);
    IF problem IS NULL AND p_institution IS NOT NULL AND NOT p_institution = ANY (p_parties) THEN
        problem := 'parties: ' || p_institution || ' cannot leave an agreement by editing it '
                   '(terminate it instead)';
    END IF;
    IF problem IS NOT NULL THEN
        RETURN QUERY SELECT 422, problem;
        RETURN;
    END IF;
    IF p_hash <> (l.a).hash THEN -- any change of content voids every approval
        DELETE FROM agreement_approvals WHERE agreement_id = p_id;
        GET DIAGNOSTICS voided = ROW_COUNT;
        UPDATE agreements SET content = p_content, hash = p_hash, parties = p_parties,
                              valid_from = p_from, valid_until = p_until,
                              version = version + 1, updated_at = now()
         WHERE id = p_id;
        INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, after_hash, details)
        VALUES (p_actor, 'update', 'agreement', p_id::text, (l.a).hash, p_hash,
                jsonb_build_object('approvals_voided', voided));
    END IF;
    RETURN QUERY SELECT 200, agreements_api_json(p_id)::text;
END
$$;

CREATE FUNCTION recognition_agreement_approve(p_id uuid, p_hash text, p_institution text,
                                              p_user uuid, p_actor text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    l record := recognition_agreement_lock(p_id, p_institution);
BEGIN
    IF l.status IS NOT NULL THEN
        RETURN QUERY SELECT l.status, l.body;
        RETURN;
    END IF;
    IF p_hash IS DISTINCT FROM (l.a).hash THEN
        RETURN QUERY SELECT 409, 'the agreement changed since hash ' || coalesce(p_hash, '')
                                 || ': read it again and approve hash ' || (l.a).hash;
        RETURN;
    END IF;
    INSERT INTO agreement_approvals (agreement_id, institution_id, hash, approved_by)
    VALUES (p_id, p_institution, p_hash, p_user)
    ON CONFLICT (agreement_id, institution_id) DO UPDATE
       SET hash = EXCLUDED.hash, approved_by = EXCLUDED.approved_by, approved_at = now();
    INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)
    VALUES (p_actor, 'approve', 'agreement', p_id::text, p_hash,
            jsonb_build_object('institution', p_institution));
    RETURN QUERY SELECT 200, agreements_api_json(p_id)::text;
END
$$;

CREATE FUNCTION recognition_agreement_terminate(p_id uuid, p_date date, p_institution text,
                                                p_actor text)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    l record := recognition_agreement_lock(p_id, p_institution);
BEGIN
    IF l.status IS NOT NULL THEN
        RETURN QUERY SELECT l.status, l.body;
        RETURN;
    END IF;
    IF p_date < (l.a).valid_from THEN
        RETURN QUERY SELECT 422, 'date: ' || p_date || ' is before the agreement starts ('
                                 || (l.a).valid_from || ')';
        RETURN;
    END IF;
    UPDATE agreements SET terminated_on = p_date, updated_at = now() WHERE id = p_id;
    INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)
    VALUES (p_actor, 'terminate', 'agreement', p_id::text, (l.a).hash,
            jsonb_build_object('terminated_on', p_date));
    RETURN QUERY SELECT 200, agreements_api_json(p_id)::text;
END
$$;

-- What an offer gives at p_inst: the first active agreement (oldest first) between
-- p_inst and the offer's institution whose scope covers the offer, with its course
-- rule for this offer, else its first elective rule. NULL when none covers it.
-- Scope: an ISCED entry covers its narrower codes; EQF range; minimum ECTS; modes;
-- requires_qa wants a quality assurance text on the offer. Only what the offer
-- states can pass a constraint: an offer without an EQF level is outside an EQF range.
CREATE FUNCTION offer_recognition(p_offer uuid, p_inst text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'institution', p_inst, 'agreement', a.id,
               'as', coalesce(cr.rule->>'recognise_as', er.rule->>'recognise_as'),
               'credits', coalesce((cr.rule->>'credits')::numeric, o.ects),
               'course', cr.rule->>'home_course')
      FROM offers o
      JOIN agreements a ON p_inst = ANY (a.parties) AND o.institution_id = ANY (a.parties)
      LEFT JOIN LATERAL (SELECT r.rule FROM jsonb_array_elements(a.content->'rules') r(rule)
                          WHERE r.rule->>'recognise_as' = 'course'
                            AND r.rule->>'offer_id' = o.id::text LIMIT 1) cr ON true
      LEFT JOIN LATERAL (SELECT r.rule FROM jsonb_array_elements(a.content->'rules') r(rule)
                          WHERE r.rule->>'recognise_as' = 'elective' LIMIT 1) er ON true
     WHERE o.id = p_offer AND o.deleted_at IS NULL AND o.institution_id <> p_inst
       AND agreement_status(a) = 'active'
       AND current_date >= a.valid_from AND (a.valid_until IS NULL OR current_date <= a.valid_until)
       AND (cr.rule IS NOT NULL OR er.rule IS NOT NULL)
       AND (jsonb_array_length(coalesce(a.content->'scope'->'isced', '[]')) = 0
            OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(a.content->'scope'->'isced') s(c)
                        WHERE s.c = ANY (o.isced_codes)))
       AND (a.content->'scope'->>'eqf_min' IS NULL OR o.eqf >= (a.content->'scope'->>'eqf_min')::int)
       AND (a.content->'scope'->>'eqf_max' IS NULL OR o.eqf <= (a.content->'scope'->>'eqf_max')::int)
       AND (a.content->'scope'->>'ects_min' IS NULL
            OR o.ects >= (a.content->'scope'->>'ects_min')::numeric)
       AND (jsonb_array_length(coalesce(a.content->'scope'->'modes', '[]')) = 0
            OR a.content->'scope'->'modes' ? o.mode)
       AND (coalesce((a.content->'scope'->>'requires_qa')::boolean, false) = false
            OR coalesce(o.doc->'quality_assurance', '{}') <> '{}')
     ORDER BY a.created_at, a.id
     LIMIT 1
$$;

-- The institutions p_inst has an active agreement with: a cheap first filter for
-- recognised_by, before offer_recognition looks at each offer.
CREATE FUNCTION recognition_partners(p_inst text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT x), '{}')
      FROM agreements a, unnest(a.parties) x
     WHERE p_inst = ANY (a.parties) AND x <> p_inst AND agreement_status(a) = 'active'
$$;

-- An offer as the API shows it, with what it gives at p_home (DESIGN §5: "with
-- ?home=ID (or recognised_by) an offer carries recognition").
CREATE FUNCTION offers_api_json(p_id uuid, p_home text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_home IS NULL THEN j
                ELSE j || jsonb_build_object('recognition', offer_recognition(p_id, p_home)) END
      FROM offers_api_json(p_id) j
$$;

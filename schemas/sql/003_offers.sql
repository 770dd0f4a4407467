-- Offers (DESIGN §4): one learning opportunity of an institution, versioned, with a
-- tombstone instead of a hard delete (peers may still replicate it). The offer's
-- content is kept as the API's JSON fields (doc) plus typed columns for search and
-- facets; the document it was published in is kept verbatim in offer_sources.

CREATE TABLE offer_sources (
    id bigserial PRIMARY KEY,
    institution_id text NOT NULL REFERENCES institutions,
    format text NOT NULL CHECK (format IN ('loq', 'elm')),
    body text COMPRESSION lz4 NOT NULL, -- lz4: a 40 MB catalogue compresses in milliseconds
    sha256 text NOT NULL,
    actor text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE offers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    institution_id text NOT NULL REFERENCES institutions,
    external_id text NOT NULL CHECK (external_id <> '' AND length(external_id) <= 512),
    content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    doc jsonb NOT NULL CHECK (jsonb_typeof(doc) = 'object'),
    completeness text[] NOT NULL DEFAULT '{}', -- missing Council Recommendation elements
    source_id bigint REFERENCES offer_sources,
    -- typed copies of doc for search and facets (written by offers_put)
    title jsonb NOT NULL DEFAULT '{}',
    languages text[] NOT NULL DEFAULT '{}',
    isced text[] NOT NULL DEFAULT '{}',
    eqf smallint CHECK (eqf BETWEEN 1 AND 8),
    ects numeric(7, 2) CHECK (ects >= 0),
    mode text CHECK (mode IN ('online', 'blended', 'onsite')),
    starts date,
    ends date,
    application_deadline date,
    -- provenance: set when a harvest brought it (a later issue), NULL when published here
    partner_id text,
    fetched_at timestamptz,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    UNIQUE (institution_id, external_id)
);

CREATE INDEX offers_updated_at_idx ON offers (updated_at);
CREATE INDEX offers_live_institution_idx ON offers (institution_id) WHERE deleted_at IS NULL;

-- A date out of the JSON, or NULL when absent or not a date: the codecs write
-- YYYY-MM-DD, and a bad value must not reject the whole offer.
CREATE FUNCTION offers_json_date(v text) RETURNS date
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR v !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN make_date(substr(v, 1, 4)::int, substr(v, 6, 2)::int, substr(v, 9, 2)::int);
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION offers_json_array(v jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(e), '{}') FROM jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE '[]'::jsonb END) AS e
$$;

-- Creates, changes or leaves alone each offer of a batch, in order: identical
-- content (same hash) on a live offer changes nothing, not even updated_at. Every
-- change writes an audit entry. items is a JSON array of
-- {"external_id","hash","doc","completeness":[…]}; one result row per item, with
-- the offer as the API shows it when p_json (single-offer writes reply with it).
CREATE FUNCTION offers_put(p_institution text, p_actor text, p_source bigint, p_items jsonb,
                           p_json boolean DEFAULT false)
RETURNS TABLE (idx integer, external_id text, id uuid, version integer,
               updated_at timestamptz, outcome text, api jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    it jsonb;
    n integer;
    prev record;
    d jsonb;
    oid uuid;
    result text;
BEGIN
    FOR it, n IN SELECT e, o::integer - 1 FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(e, o)
    LOOP
        d := it->'doc';
        SELECT o.id, o.content_hash, o.version, o.deleted_at INTO prev
          FROM offers o
         WHERE o.institution_id = p_institution AND o.external_id = it->>'external_id'
           FOR UPDATE;
        IF FOUND AND prev.content_hash = it->>'hash' AND prev.deleted_at IS NULL THEN
            oid := prev.id;
            result := 'unchanged';
        ELSIF FOUND THEN
            UPDATE offers o SET
                content_hash = it->>'hash', doc = d,
                completeness = offers_json_array(it->'completeness'), source_id = p_source,
                title = coalesce(d->'title', '{}'), languages = offers_json_array(d->'languages'),
                isced = offers_json_array(d->'isced'), eqf = (d->>'eqf')::smallint,
                ects = (d->>'ects')::numeric, mode = d->>'mode',
                starts = offers_json_date(d->>'starts'), ends = offers_json_date(d->>'ends'),
                application_deadline = offers_json_date(d->>'application_deadline'),
                version = o.version + 1, updated_at = now(), deleted_at = NULL
             WHERE o.id = prev.id;
            INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, after_hash, details)
            VALUES (p_actor, CASE WHEN prev.deleted_at IS NULL THEN 'update' ELSE 'restore' END,
                    'offer', prev.id::text, prev.content_hash, it->>'hash',
                    jsonb_build_object('institution', p_institution, 'external_id', it->>'external_id'));
            oid := prev.id;
            result := 'updated';
        ELSE
            INSERT INTO offers AS o (institution_id, external_id, content_hash, doc, completeness,
                                     source_id, title, languages, isced, eqf, ects, mode,
                                     starts, ends, application_deadline)
            VALUES (p_institution, it->>'external_id', it->>'hash', d,
                    offers_json_array(it->'completeness'), p_source, coalesce(d->'title', '{}'),
                    offers_json_array(d->'languages'), offers_json_array(d->'isced'),
                    (d->>'eqf')::smallint, (d->>'ects')::numeric, d->>'mode',
                    offers_json_date(d->>'starts'), offers_json_date(d->>'ends'),
                    offers_json_date(d->>'application_deadline'))
            RETURNING o.id INTO oid;
            INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)
            VALUES (p_actor, 'create', 'offer', oid::text, it->>'hash',
                    jsonb_build_object('institution', p_institution, 'external_id', it->>'external_id'));
            result := 'created';
        END IF;
        RETURN QUERY SELECT n, it->>'external_id', o.id, o.version, o.updated_at, result,
                            CASE WHEN p_json THEN offers_api_json(o.id) END
                       FROM offers o WHERE o.id = oid;
    END LOOP;
END
$$;

-- The same for a whole catalogue, set-based (one pass over the items instead of a
-- loop): what the bulk endpoint and `mcx publish` use. External ids must be unique
-- within items (the callers reject duplicates first). No api column: bulk replies
-- with a report, not the offers. p_partner marks harvested offers with their partner.
CREATE FUNCTION offers_put_many(p_institution text, p_actor text, p_source bigint, p_items jsonb,
                                p_partner text DEFAULT NULL)
RETURNS TABLE (idx integer, external_id text, outcome text)
LANGUAGE sql AS $$
    WITH items AS (
        SELECT (x.o - 1)::integer AS idx, x.e->>'external_id' AS external_id, x.e->>'hash' AS hash,
               x.e->'doc' AS doc, offers_json_array(x.e->'completeness') AS completeness
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(e, o)
    ), prev AS (
        SELECT o.id, o.external_id, o.content_hash, o.deleted_at
          FROM offers o JOIN items i ON o.external_id = i.external_id
         WHERE o.institution_id = p_institution
           FOR UPDATE OF o
    ), up AS (
        INSERT INTO offers AS o (institution_id, external_id, content_hash, doc, completeness,
                                 source_id, title, languages, isced, eqf, ects, mode,
                                 starts, ends, application_deadline, partner_id)
        SELECT p_institution, i.external_id, i.hash, i.doc, i.completeness, p_source,
               coalesce(i.doc->'title', '{}'), offers_json_array(i.doc->'languages'),
               offers_json_array(i.doc->'isced'), (i.doc->>'eqf')::smallint,
               (i.doc->>'ects')::numeric, i.doc->>'mode', offers_json_date(i.doc->>'starts'),
               offers_json_date(i.doc->>'ends'), offers_json_date(i.doc->>'application_deadline'),
               p_partner
          FROM items i
        ON CONFLICT (institution_id, external_id) DO UPDATE SET
            content_hash = EXCLUDED.content_hash, doc = EXCLUDED.doc,
            completeness = EXCLUDED.completeness, source_id = EXCLUDED.source_id,
            title = EXCLUDED.title, languages = EXCLUDED.languages, isced = EXCLUDED.isced,
            eqf = EXCLUDED.eqf, ects = EXCLUDED.ects, mode = EXCLUDED.mode,
            starts = EXCLUDED.starts, ends = EXCLUDED.ends,
            application_deadline = EXCLUDED.application_deadline, partner_id = EXCLUDED.partner_id,
            version = o.version + 1, updated_at = now(), deleted_at = NULL
         WHERE o.content_hash <> EXCLUDED.content_hash OR o.deleted_at IS NOT NULL
        RETURNING o.id, o.external_id
    ), aud AS (
        INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, after_hash, details)
        SELECT p_actor,
               CASE WHEN p.id IS NULL THEN 'create' WHEN p.deleted_at IS NOT NULL THEN 'restore'
                    ELSE 'update' END,
               'offer', u.id::text, p.content_hash, i.hash,
               jsonb_build_object('institution', p_institution, 'external_id', u.external_id)
          FROM up u JOIN items i ON i.external_id = u.external_id
          LEFT JOIN prev p ON p.external_id = u.external_id
    )
    SELECT i.idx, i.external_id,
           CASE WHEN u.id IS NULL THEN 'unchanged' WHEN p.id IS NULL THEN 'created'
                ELSE 'updated' END
      FROM items i
      LEFT JOIN up u ON u.external_id = i.external_id
      LEFT JOIN prev p ON p.external_id = i.external_id
     ORDER BY i.idx
$$;

-- Tombstones live offers of an institution: the one named (p_only), or, with
-- p_only NULL, every one whose external id is not in p_keep (replace mode).
-- With p_partner, only offers that partner's harvests brought. Returns the
-- tombstoned offers; each gets an audit entry.
CREATE FUNCTION offers_tombstone(p_institution text, p_actor text, p_only text, p_keep text[],
                                 p_partner text DEFAULT NULL)
RETURNS TABLE (id uuid, external_id text, version integer)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH gone AS (
        UPDATE offers o SET deleted_at = now(), updated_at = now(), version = o.version + 1
         WHERE o.institution_id = p_institution AND o.deleted_at IS NULL
           AND (p_partner IS NULL OR o.partner_id = p_partner)
           AND (CASE WHEN p_only IS NOT NULL THEN o.external_id = p_only
                     ELSE NOT (o.external_id = ANY (coalesce(p_keep, '{}'))) END)
        RETURNING o.id, o.external_id, o.version, o.content_hash
    ), aud AS (
        INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, details)
        SELECT p_actor, 'delete', 'offer', gone.id::text, gone.content_hash,
               jsonb_build_object('institution', p_institution, 'external_id', gone.external_id)
          FROM gone
    )
    SELECT gone.id, gone.external_id, gone.version FROM gone;
END
$$;

CREATE UNIQUE INDEX offer_sources_dedup_idx ON offer_sources (institution_id, sha256);

-- The offer exactly as the API shows it (DESIGN §5): the stored content fields plus
-- identity, institution, provenance, completeness, version and state. Every read and
-- write reply is built here, so they cannot drift apart.
CREATE FUNCTION offers_api_json(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT o.doc || jsonb_build_object(
        'id', o.id::text,
        'external_id', o.external_id,
        'institution', jsonb_build_object(
            'id', i.id,
            'name', coalesce(i.name->>'en', (SELECT value FROM jsonb_each_text(i.name) LIMIT 1)),
            'country', i.country),
        'provenance', CASE WHEN o.partner_id IS NULL THEN NULL ELSE jsonb_build_object(
            'partner', o.partner_id,
            'fetched_at', to_char(o.fetched_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) END,
        'completeness', jsonb_build_object('missing', to_jsonb(o.completeness)),
        'recognition', NULL,
        'version', o.version,
        'updated_at', to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'deleted', o.deleted_at IS NOT NULL)
      FROM offers o JOIN institutions i ON i.id = o.institution_id
     WHERE o.id = p_id
$$;

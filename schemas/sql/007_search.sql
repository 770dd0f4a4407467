-- Student search (DESIGN §5 GET /api/v1/offers, issue 7): a weighted full-text
-- vector per offer built in each text's own language, accent-folded titles for
-- typo-tolerant trigram matching, ISCED-F codes with their broader prefixes (a
-- field matches its narrower fields), ECTS bands for the facet, and a catalogue
-- version that every write bumps and announces (NOTIFY mcx_catalogue) so every
-- node can keep its result ETags honest.

-- unaccent() is STABLE (it reads its dictionary by name); with the dictionary
-- named explicitly it is as immutable as any text search function, so indexes and
-- generated columns can use it.
CREATE FUNCTION mcx_unaccent(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT public.unaccent('public.unaccent'::regdictionary, t)
$$;

-- The text search configuration for an ISO 639-1 language: PostgreSQL's
-- snowball stemmer where it has one, 'simple' (no stemming) elsewhere, e.g. lt, pl.
CREATE FUNCTION mcx_ts_config(lang text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE lang
        WHEN 'en' THEN 'pg_catalog.english' WHEN 'de' THEN 'pg_catalog.german'
        WHEN 'fr' THEN 'pg_catalog.french' WHEN 'es' THEN 'pg_catalog.spanish'
        WHEN 'it' THEN 'pg_catalog.italian' WHEN 'pt' THEN 'pg_catalog.portuguese'
        WHEN 'nl' THEN 'pg_catalog.dutch' WHEN 'sv' THEN 'pg_catalog.swedish'
        WHEN 'da' THEN 'pg_catalog.danish' WHEN 'fi' THEN 'pg_catalog.finnish'
        WHEN 'hu' THEN 'pg_catalog.hungarian' WHEN 'no' THEN 'pg_catalog.norwegian'
        WHEN 'nb' THEN 'pg_catalog.norwegian' WHEN 'ro' THEN 'pg_catalog.romanian'
        WHEN 'ru' THEN 'pg_catalog.russian' WHEN 'tr' THEN 'pg_catalog.turkish'
        ELSE 'pg_catalog.simple' END)::regconfig
$$;

CREATE AGGREGATE mcx_tsvector_agg(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector,
                                             INITCOND = '');

-- A language map ({"en":"…","de":"…"}) as one vector, each text in its language.
CREATE FUNCTION mcx_lang_map_tsvector(m jsonb, w "char") RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(setweight(mcx_tsvector_agg(
               to_tsvector(mcx_ts_config(t.key), mcx_unaccent(t.value))), w), '')
      FROM jsonb_each_text(CASE WHEN jsonb_typeof(m) = 'object' THEN m ELSE '{}' END) t
$$;

-- Title (A) > learning outcomes (B) > description (C).
CREATE FUNCTION offers_search_vector(doc jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT mcx_lang_map_tsvector(doc->'title', 'A')
        || coalesce((SELECT mcx_tsvector_agg(mcx_lang_map_tsvector(x, 'B'))
                       FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc->'learning_outcomes')
                                                      = 'array' THEN doc->'learning_outcomes'
                                                      ELSE '[]' END) x), '')
        || mcx_lang_map_tsvector(doc->'description', 'C')
$$;

-- The words of a query (accent-folded; letters and digits only, so nothing in q
-- is ever tsquery syntax) as one tsquery: every word, the last one also as a
-- prefix (the student is still typing it), stemmed by each configuration the
-- catalogue's texts use (a query declares no language), the variants ORed.
-- NULL when q has no word.
CREATE FUNCTION mcx_search_tsquery(q text) RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET client_min_messages = warning AS $$
DECLARE
    words text := btrim(regexp_replace(lower(mcx_unaccent(coalesce(q, ''))), '[^[:alnum:]]+',
                                       ' ', 'g'));
    expr text;
    cfg regconfig;
    one tsquery;
    seen text[] := '{}';
    result tsquery := '';
BEGIN
    IF words = '' THEN
        RETURN NULL;
    END IF;
    expr := replace(words, ' ', ' & ') || ':*';
    FOREACH cfg IN ARRAY ARRAY['pg_catalog.simple', 'pg_catalog.english', 'pg_catalog.german',
                               'pg_catalog.french', 'pg_catalog.spanish', 'pg_catalog.italian',
                               'pg_catalog.portuguese', 'pg_catalog.dutch', 'pg_catalog.swedish',
                               'pg_catalog.danish', 'pg_catalog.finnish', 'pg_catalog.hungarian',
                               'pg_catalog.norwegian', 'pg_catalog.romanian',
                               'pg_catalog.russian', 'pg_catalog.turkish']::regconfig[] LOOP
        one := to_tsquery(cfg, expr);
        IF one::text <> '' AND NOT one::text = ANY (seen) THEN
            seen := seen || one::text; -- most languages stem alike: keep each variant once
            result := result || one;
        END IF;
    END LOOP;
    RETURN result;
END
$$;

-- Every title of the offer, accent-folded and lower case, for trigram matching.
CREATE FUNCTION offers_title_text(title jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(lower(mcx_unaccent(string_agg(t.value, ' ' ORDER BY t.key))), '')
      FROM jsonb_each_text(CASE WHEN jsonb_typeof(title) = 'object' THEN title ELSE '{}' END) t
$$;

-- "0613" → {06, 061, 0613}: a filter on a broad or narrow field finds its detailed ones.
CREATE FUNCTION offers_isced_prefixes(codes text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT left(c, n) ORDER BY left(c, n)), '{}')
      FROM unnest(codes) c, generate_series(2, 4) n
     WHERE length(c) >= n
$$;

-- The ECTS facet's bands: [0,3) [3,6) [6,10) [10,∞).
CREATE FUNCTION offers_ects_band(ects numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN ects IS NULL THEN NULL WHEN ects < 3 THEN '0-3' WHEN ects < 6 THEN '3-6'
                WHEN ects < 10 THEN '6-10' ELSE '10+' END
$$;

ALTER TABLE offers
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (offers_search_vector(doc)) STORED,
    ADD COLUMN title_text text GENERATED ALWAYS AS (offers_title_text(title)) STORED,
    ADD COLUMN isced_codes text[] GENERATED ALWAYS AS (offers_isced_prefixes(isced)) STORED,
    ADD COLUMN ects_band text GENERATED ALWAYS AS (offers_ects_band(ects)) STORED;

CREATE INDEX offers_search_vector_idx ON offers USING gin (search_vector)
    WHERE deleted_at IS NULL;
CREATE INDEX offers_title_trgm_idx ON offers USING gin (title_text gin_trgm_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX offers_languages_idx ON offers USING gin (languages) WHERE deleted_at IS NULL;
CREATE INDEX offers_isced_codes_idx ON offers USING gin (isced_codes) WHERE deleted_at IS NULL;
-- keyset orders of the non-relevance sorts
-- (the expressions are the sort keys of catalogue/search.c: no offer sorts before
-- the first page for want of a date or credits)
CREATE INDEX offers_sort_start_idx ON offers ((coalesce(starts, 'infinity'::date)), id)
    WHERE deleted_at IS NULL;
CREATE INDEX offers_sort_ects_idx ON offers ((coalesce(ects, 'Infinity'::numeric)), id)
    WHERE deleted_at IS NULL;
CREATE INDEX offers_sort_title_idx ON offers (title_text, id) WHERE deleted_at IS NULL;

-- The catalogue's version: one row, bumped once per writing statement, and
-- announced to every listening node when the transaction commits.
CREATE TABLE catalogue_state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL DEFAULT 1,
    -- signs search cursors: every node on this database accepts every other's
    cursor_secret text NOT NULL DEFAULT gen_random_uuid()::text || gen_random_uuid()::text
);
INSERT INTO catalogue_state DEFAULT VALUES;

-- Statement triggers with transition tables: a statement that changed no row (a
-- publish of an unchanged catalogue, a harvest with nothing new) bumps nothing.
CREATE FUNCTION catalogue_state_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM changed) THEN
        RETURN NULL;
    END IF;
    UPDATE catalogue_state SET version = version + 1 RETURNING version INTO v;
    PERFORM pg_notify('mcx_catalogue', v::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER offers_bump_insert AFTER INSERT ON offers REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_state_bump();
CREATE TRIGGER offers_bump_update AFTER UPDATE ON offers REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_state_bump();
CREATE TRIGGER offers_bump_delete AFTER DELETE ON offers REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_state_bump();
CREATE TRIGGER institutions_bump_insert AFTER INSERT ON institutions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_state_bump();
CREATE TRIGGER institutions_bump_update AFTER UPDATE ON institutions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_state_bump();

-- Typo tolerance: a query word set is close enough to a title when pg_trgm's
-- word_similarity reaches 0.45 ("machne lerning" ~ "machine learning" is about
-- 0.52; the default 0.6 misses two typos). The <% operator reads this setting.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET pg_trgm.word_similarity_threshold = 0.45',
                   current_database());
END
$$;

-- The bulk store of 003, unchanged but for one thing: the generated columns above
-- make an INSERT attempt costly (a tsvector per language), so an item whose live
-- offer already has its content hash skips the INSERT instead of being turned
-- away by ON CONFLICT ... WHERE. Same outcomes; a re-publish or a re-harvest of an
-- unchanged catalogue writes nothing.
CREATE OR REPLACE FUNCTION offers_put_many(p_institution text, p_actor text, p_source bigint, p_items jsonb,
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
         -- an unchanged live offer is not even tried: the generated search columns
         -- would be computed for nothing before ON CONFLICT found it
         WHERE NOT EXISTS (SELECT 1 FROM prev p WHERE p.external_id = i.external_id
                              AND p.content_hash = i.hash AND p.deleted_at IS NULL)
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

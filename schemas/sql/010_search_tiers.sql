-- 010: relevance by tiers (catalogue/search.c). A query's words restricted to a
-- weight: mcx_search_tsquery(q, 'A') matches offers with every word of q in a
-- title (weight A, 007's offers_search_vector), so that the search can list
-- title matches before the rest without scoring every match. mcx_search_tsquery(q)
-- becomes the same with no weight, so that the two cannot drift apart.

CREATE FUNCTION mcx_search_tsquery(q text, weights text) RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET client_min_messages = warning AS $$
DECLARE
    words text := btrim(regexp_replace(lower(mcx_unaccent(coalesce(q, ''))), '[^[:alnum:]]+',
                                       ' ', 'g'));
    w text := upper(regexp_replace(coalesce(weights, ''), '[^ABCDabcd]', '', 'g'));
    expr text;
    cfg regconfig;
    one tsquery;
    seen text[] := '{}';
    result tsquery := '';
BEGIN
    IF words = '' THEN
        RETURN NULL;
    END IF;
    -- every word (with ":<weights>" when given), the last one also a prefix
    expr := replace(words, ' ', CASE WHEN w = '' THEN ' & ' ELSE ':' || w || ' & ' END)
            || ':*' || w;
    FOREACH cfg IN ARRAY ARRAY['pg_catalog.simple', 'pg_catalog.english', 'pg_catalog.german',
                               'pg_catalog.french', 'pg_catalog.spanish', 'pg_catalog.italian',
                               'pg_catalog.portuguese', 'pg_catalog.dutch', 'pg_catalog.swedish',
                               'pg_catalog.danish', 'pg_catalog.finnish', 'pg_catalog.hungarian',
                               'pg_catalog.norwegian', 'pg_catalog.romanian',
                               'pg_catalog.russian', 'pg_catalog.turkish']::regconfig[] LOOP
        one := to_tsquery(cfg, expr);
        IF one::text <> '' AND NOT one::text = ANY (seen) THEN
            seen := seen || one::text;
            result := result || one;
        END IF;
    END LOOP;
    RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION mcx_search_tsquery(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT mcx_search_tsquery(q, '')
$$;

-- Whether any live offer has every word of q: the typo fallback's gate. A function
-- for its SET: with a LIMIT-like EXISTS the planner would read the table in order
-- hoping for an early match, which for a typo never comes (0.7 s at 1,000,000
-- offers); the GIN index answers it in milliseconds.
CREATE FUNCTION mcx_search_has_words(q text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET enable_seqscan = off AS $$
    SELECT EXISTS (SELECT 1 FROM offers
                    WHERE deleted_at IS NULL AND search_vector @@ mcx_search_tsquery(q))
$$;

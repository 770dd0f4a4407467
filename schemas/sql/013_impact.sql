-- 013: the impact figures (DESIGN §5 "Issuance", issue 11): GET /api/v1/stats/impact
-- (catalogue/impact.c) answers impact_reply() below, so the dashboard shows exactly
-- what the counts written here give; docs/impact.md explains them for readers.
--
-- A period is a range of whole UTC calendar days [from, to], both included: the
-- instants [from 00:00 UTC, to + 1 day 00:00 UTC). A month of the series is a UTC
-- calendar month ("YYYY-MM"); the first and last months count only their days inside
-- the period. What is counted, for a period:
--
-- exposed     Distinct visitors (events.visitor: the mcx_vid cookie) with at least one
--             'search', 'impression' or 'view' event in the period: browsers that got
--             a search page or read an offer (catalogue/events.c writes those rows).
--             Rows without a visitor (DNT: 1 or Sec-GPC: 1) cannot be told apart and
--             are not counted; a batch written twice changes nothing. For an
--             institution (events.institution_id: the offer's institution), the
--             distinct visitors shown one of its offers on a search page
--             ('impression') or reading one ('view'); a 'search' row names no
--             institution, so it counts network-wide only. A visitor counts once per
--             group: once in the total, once in each month and in each institution
--             they were exposed in, so months and institutions need not add up to
--             the total.
--
-- applied     'application' events in the period: one per student and offer, at the
--             first application (catalogue/applications.c writes it in the statement
--             that inserts the applications row, from that row's RETURNING, so exactly
--             one event per row, at its created_at). The event and not the row,
--             because the event stays when the student's account is erased or the
--             offer purged (applications rows cascade away): the figure of a past
--             period never changes. For an institution: the offer's institution.
--
-- issued      Credentials whose delivered_at (the outbox's successful hand-over to the
--             Europass issuer, 012_issuance.sql) is in the period, whatever their state
--             now: one revoked after delivery was issued all the same (and the figure
--             of a past period never changes), and a reissue is a new credential,
--             delivered again, so it counts again. Queued, sending and failed ones have
--             no delivered_at. For an institution: credentials.institution_id, the
--             offer's institution that issued it.
--
-- mobilities  Credit transfers (credit_transfers: one per decided recognition request)
--             with outcome 'recognised' or 'partially_recognised' whose decided_at is in
--             the period and whose credential came from another institution: its issuer
--             (recognition_requests.issuer_id, the node's id for it, else the
--             credential's own credential->'issuer'->>'id') is known and differs from the
--             home institution (credit_transfers.institution_id). A request decided
--             again after an appeal is one transfer, counted at its last decision with
--             its last outcome. For an institution: the home institution, the one that
--             recognised the credit (the issuer's side is its 'issued' figure).
--
-- by_institution holds the four figures of every institution with any of them above
-- zero in the period; only staff get it (catalogue/impact.c).

-- Applications of a period without reading every exposure row of it (there are
-- thousands of those per application); one institution's use events_institution_at.
CREATE INDEX events_application_at ON events (at) INCLUDE (institution_id)
    WHERE kind = 'application';
-- Credentials delivered in a period (credentials_institution_idx is by created_at).
CREATE INDEX credentials_delivered_at ON credentials (delivered_at) INCLUDE (institution_id)
    WHERE delivered_at IS NOT NULL;
-- Network-wide transfers decided in a period (credit_transfers_institution_idx serves
-- one home institution).
CREATE INDEX credit_transfers_decided_at ON credit_transfers (decided_at);

-- A UTC calendar day as the instant it starts.
CREATE FUNCTION impact_day_start(d date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT d::timestamp AT TIME ZONE 'UTC'
$$;

-- The UTC calendar month of an instant, as the timestamp it starts (a cheap key:
-- to_char on every event row would cost more than the count).
CREATE FUNCTION impact_month(t timestamptz) RETURNS timestamp
LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc('month', t AT TIME ZONE 'UTC')
$$;

-- The figures of [p_from, p_to] (NULL: the 365 days up to today, UTC), of one
-- institution (p_institution) or the network (NULL), with by_institution when
-- p_detail:
-- {"from","to","institution","exposed","applied","issued","mobilities",
--  "series":[{"month","exposed","applied","issued","mobilities"}…],"by_institution":{…}}.
-- The series has every month the period touches, oldest first, zeros included.
--
-- Exposure is the costly part (thousands of rows per application): one scan of the
-- period's rows reduces them to distinct (visitor, institution, month) triples by
-- hashing (the visitor as a uuid: its 32 hex digits are one), and the three distinct
-- counts are read from those.
CREATE FUNCTION impact_stats(p_from date, p_to date, p_institution text, p_detail boolean)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
WITH d AS (
    SELECT coalesce(p_to, (now() AT TIME ZONE 'UTC')::date) AS d_to
), r AS (
    SELECT coalesce(p_from, d.d_to - 364) AS d_from, d.d_to,
           impact_day_start(coalesce(p_from, d.d_to - 364)) AS lo,
           impact_day_start(d.d_to + 1) AS hi
      FROM d
),
seen AS MATERIALIZED (
    SELECT e.visitor::uuid AS visitor, e.institution_id AS inst, impact_month(e.at) AS month
      FROM events e, r
     WHERE e.kind IN ('search', 'impression', 'view') AND e.visitor IS NOT NULL
       AND e.at >= r.lo AND e.at < r.hi
       AND (p_institution IS NULL OR e.institution_id = p_institution)
     GROUP BY 1, 2, 3
),
applied AS (
    SELECT e.institution_id AS inst, impact_month(e.at) AS month
      FROM events e, r
     WHERE e.kind = 'application' AND e.at >= r.lo AND e.at < r.hi
       AND (p_institution IS NULL OR e.institution_id = p_institution)
),
issued AS (
    SELECT c.institution_id AS inst, impact_month(c.delivered_at) AS month
      FROM credentials c, r
     WHERE c.delivered_at >= r.lo AND c.delivered_at < r.hi
       AND (p_institution IS NULL OR c.institution_id = p_institution)
),
moved AS (
    SELECT ct.institution_id AS inst, impact_month(ct.decided_at) AS month
      FROM credit_transfers ct
      JOIN recognition_requests q ON q.id = ct.request_id, r
     WHERE ct.outcome IN ('recognised', 'partially_recognised')
       AND ct.decided_at >= r.lo AND ct.decided_at < r.hi
       AND coalesce(q.issuer_id, ct.credential->'issuer'->>'id') <> ct.institution_id
       AND (p_institution IS NULL OR ct.institution_id = p_institution)
),
months AS (
    SELECT m AS month, n
      FROM r, generate_series(date_trunc('month', r.d_from::timestamp), r.d_to::timestamp,
                              interval '1 month') WITH ORDINALITY g(m, n)
),
per_month AS (
    SELECT m.month, m.n,
           coalesce(s.n, 0) AS exposed, coalesce(a.n, 0) AS applied,
           coalesce(i.n, 0) AS issued, coalesce(v.n, 0) AS mobilities
      FROM months m
      LEFT JOIN (SELECT month, count(*) AS n
                   FROM (SELECT month, visitor FROM seen GROUP BY 1, 2) x GROUP BY month) s
             USING (month)
      LEFT JOIN (SELECT month, count(*) AS n FROM applied GROUP BY month) a USING (month)
      LEFT JOIN (SELECT month, count(*) AS n FROM issued GROUP BY month) i USING (month)
      LEFT JOIN (SELECT month, count(*) AS n FROM moved GROUP BY month) v USING (month)
),
per_inst AS (
    SELECT k.inst,
           coalesce(s.n, 0) AS exposed, coalesce(a.n, 0) AS applied,
           coalesce(i.n, 0) AS issued, coalesce(v.n, 0) AS mobilities
      FROM (SELECT inst FROM seen UNION SELECT inst FROM applied
            UNION SELECT inst FROM issued UNION SELECT inst FROM moved) k
      LEFT JOIN (SELECT inst, count(*) AS n
                   FROM (SELECT inst, visitor FROM seen GROUP BY 1, 2) x GROUP BY inst) s
             USING (inst)
      LEFT JOIN (SELECT inst, count(*) AS n FROM applied GROUP BY inst) a USING (inst)
      LEFT JOIN (SELECT inst, count(*) AS n FROM issued GROUP BY inst) i USING (inst)
      LEFT JOIN (SELECT inst, count(*) AS n FROM moved GROUP BY inst) v USING (inst)
     WHERE coalesce(p_detail, false) AND k.inst IS NOT NULL
)
SELECT jsonb_build_object(
           'from', r.d_from, 'to', r.d_to, 'institution', p_institution,
           'exposed', (SELECT count(*) FROM (SELECT visitor FROM seen GROUP BY 1) x),
           'applied', (SELECT count(*) FROM applied),
           'issued', (SELECT count(*) FROM issued),
           'mobilities', (SELECT count(*) FROM moved),
           'series', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                          'month', to_char(month, 'YYYY-MM'), 'exposed', exposed,
                                          'applied', applied, 'issued', issued,
                                          'mobilities', mobilities)
                                      ORDER BY n), '[]')
                        FROM per_month))
       || CASE WHEN coalesce(p_detail, false) THEN jsonb_build_object(
              'by_institution', (SELECT coalesce(jsonb_object_agg(inst, jsonb_build_object(
                                                     'exposed', exposed, 'applied', applied,
                                                     'issued', issued, 'mobilities', mobilities)),
                                                 '{}')
                                   FROM per_inst))
          ELSE '{}' END
  FROM r
$$;

-- The series of impact_stats() as CSV (RFC 4180: a header row, CRLF after every
-- record; the cells are months and integers, so nothing needs quoting).
CREATE FUNCTION impact_csv(p_stats jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT E'month,exposed,applied,issued,mobilities\r\n'
           || coalesce(string_agg(concat_ws(',', s->>'month', s->>'exposed', s->>'applied',
                                            s->>'issued', s->>'mobilities') || E'\r\n',
                                  '' ORDER BY n), '')
      FROM jsonb_array_elements(p_stats->'series') WITH ORDINALITY x(s, n)
$$;

-- What the API answers: (status, body). 404 for an institution that does not exist
-- (a mistyped id is better told than shown as zeros); else 200 with the figures as
-- JSON, or their series as CSV when p_csv (no by_institution then).
CREATE FUNCTION impact_reply(p_from date, p_to date, p_institution text, p_detail boolean,
                             p_csv boolean)
RETURNS TABLE (status integer, body text)
LANGUAGE sql STABLE AS $$
    SELECT 404, 'institution: no institution ' || p_institution
     WHERE p_institution IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM institutions i WHERE i.id = p_institution)
    UNION ALL
    SELECT 200, CASE WHEN p_csv THEN impact_csv(s) ELSE s::text END
      FROM impact_stats(p_from, p_to, p_institution, p_detail AND NOT p_csv) s
     WHERE p_institution IS NULL
        OR EXISTS (SELECT 1 FROM institutions i WHERE i.id = p_institution)
$$;

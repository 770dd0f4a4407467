-- Federation (DESIGN §4, §5): the partners whose catalogues this node harvests, and
-- a record of every harvest run. Partners are a work queue shared by every node on
-- this database: a node claims a due partner with FOR UPDATE SKIP LOCKED and moves
-- its next_attempt_at forward in the same statement, so no two nodes fetch it at once.

CREATE TABLE partners (
    -- The partner institution's id: its offers are stored under it.
    id text PRIMARY KEY REFERENCES institutions,
    feed_url text NOT NULL CHECK (feed_url ~ '^https?://' AND length(feed_url) <= 2048),
    format text NOT NULL CHECK (format IN ('loq', 'elm', 'ewp', 'mcx')),
    public_key text, -- PEM, for HTTP Signatures (pushes from the partner)
    key_id text,     -- hex SHA-256 of the public key (EWP keyId)
    interval_s integer NOT NULL DEFAULT 3600 CHECK (interval_s BETWEEN 10 AND 604800),
    -- conditional GET and incremental replication state
    etag text,
    last_modified text,
    modified_since timestamptz,
    -- scheduling and health
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by text,
    claimed_at timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_success_at timestamptz,
    last_error text,
    last_error_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX partners_due_idx ON partners (next_attempt_at);
-- A signature names one partner: a key cannot belong to two.
CREATE UNIQUE INDEX partners_key_id_idx ON partners (key_id) WHERE key_id IS NOT NULL;

CREATE TABLE harvest_runs (
    id bigserial PRIMARY KEY,
    partner_id text NOT NULL REFERENCES partners ON DELETE CASCADE,
    node text NOT NULL,          -- which mcxd process ran it
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL CHECK (status IN ('ok', 'not_modified', 'failed')),
    http_status integer,
    bytes bigint,
    fetched integer NOT NULL DEFAULT 0,   -- offers in the feed
    accepted integer NOT NULL DEFAULT 0,  -- created or changed
    unchanged integer NOT NULL DEFAULT 0,
    removed integer NOT NULL DEFAULT 0,   -- tombstoned: absent from a full feed
    rejected integer NOT NULL DEFAULT 0,  -- invalid offers skipped
    error text
);

CREATE INDEX harvest_runs_partner_idx ON harvest_runs (partner_id, started_at DESC);

-- Claims up to p_limit due partners for p_node, leasing each for p_lease_s seconds
-- (a node that dies mid-run gives the partner back when the lease ends).
CREATE FUNCTION partners_claim(p_node text, p_limit integer, p_lease_s integer)
RETURNS SETOF partners
LANGUAGE sql AS $$
    UPDATE partners p
       SET next_attempt_at = now() + make_interval(secs => p_lease_s),
           claimed_by = p_node, claimed_at = now()
     WHERE p.id IN (SELECT id FROM partners
                     WHERE next_attempt_at <= now()
                     ORDER BY next_attempt_at
                     LIMIT p_limit
                       FOR UPDATE SKIP LOCKED)
    RETURNING p.*
$$;

-- The partner the offer came from, and when that partner was last harvested.
CREATE OR REPLACE FUNCTION offers_api_json(p_id uuid) RETURNS jsonb
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
            'fetched_at', to_char(coalesce(p.last_success_at, o.updated_at) AT TIME ZONE 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS"Z"')) END,
        'completeness', jsonb_build_object('missing', to_jsonb(o.completeness)),
        'recognition', NULL,
        'version', o.version,
        'updated_at', to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'deleted', o.deleted_at IS NOT NULL)
      FROM offers o
      JOIN institutions i ON i.id = o.institution_id
      LEFT JOIN partners p ON p.id = o.partner_id
     WHERE o.id = p_id
$$;

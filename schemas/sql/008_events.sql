-- Exposure counting for the impact figures (DESIGN §4 `events`, §5 "Exposure",
-- issue 7): every answered search, every offer a search page showed and every
-- offer read, as one row each. Workers buffer rows and write them in batches
-- (catalogue/events.c), so `at` is when it happened and `flushed_at` when the
-- batch was written: one value per batch. A student's first application to an
-- offer (issue 8) is a row too, written by the statement that records the
-- application (catalogue/applications.c), never batched, without a visitor.
--
-- No foreign keys: a row must be writable on the hot path without touching
-- offers or institutions, and stays when its offer is deleted later (the counts
-- of the past do not change). No IP address and no user agent are stored; the
-- visitor is an anonymous first-party cookie id (docs/operations.md).
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    kind text NOT NULL CHECK (kind IN ('search', 'impression', 'view', 'application')),
    visitor text CHECK (visitor ~ '^[0-9a-f]{32}$'),
    offer_id uuid,
    institution_id text,
    detail jsonb,
    node text NOT NULL,
    flushed_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE events IS
    'events for the impact figures; append-only, written by mcxd (exposure in batches)';
COMMENT ON COLUMN events.at IS
    'when the search or read was answered, or the application made (not when written)';
COMMENT ON COLUMN events.kind IS
    'search: one answered search page; impression: an offer that page showed; view: an offer read; '
    'application: a student''s first application to an offer (009_applications.sql)';
COMMENT ON COLUMN events.visitor IS
    'the mcx_vid cookie (32 random hex digits), NULL when the client sent DNT: 1 or Sec-GPC: 1, '
    'and always for applications';
COMMENT ON COLUMN events.institution_id IS
    'the offer''s institution (impressions, views and applications)';
COMMENT ON COLUMN events.detail IS
    'search: its canonical parameters and total; view: the representation read (format)';
COMMENT ON COLUMN events.node IS 'the mcxd worker that answered (host:pid/worker)';
COMMENT ON COLUMN events.flushed_at IS 'when the batch holding this row was written';

-- Impact per institution and per offer over a time range: "distinct visitors who
-- saw offers of X between A and B" is an index-only scan of these.
CREATE INDEX events_institution_at ON events (institution_id, at) INCLUDE (kind, visitor)
    WHERE institution_id IS NOT NULL;
CREATE INDEX events_offer_at ON events (offer_id, at) INCLUDE (kind, visitor)
    WHERE offer_id IS NOT NULL;
-- Network-wide figures and retention deletes by time. Rows arrive in time order
-- (within a flush interval), so a BRIN index stays tiny and selective.
CREATE INDEX events_at ON events USING brin (at);

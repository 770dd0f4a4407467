-- HTTP Signature replay protection (EWP sec-cliauth-httpsig, "Verify the nonce"): the
-- X-Request-Id of every verified signed request, per signing key. A signature alone
-- does not stop a captured request from being sent again; remembering its nonce does.
-- server/httpsig.c verifies and hands back both values; the caller records them here.
--
-- One statement detects a replay atomically across any number of mcxd nodes: the
-- primary key serialises concurrent inserts of the same pair, so exactly one of them
-- gets a row back.
--
--   INSERT INTO httpsig_seen (key_id, request_id) VALUES ($1, $2)
--       ON CONFLICT DO NOTHING RETURNING seen_at;
--
--   one row:  first sighting, go on with the request;
--   no row:   replay, refuse it (HTTP 400, "X-Request-Id already used").
--
-- Run it on its own (autocommit), before the request does anything: inside a
-- transaction that later rolls back, the nonce would be forgotten while effects
-- outside the database (a sent e-mail, an outbound call) remain.
--
-- Expiry: a request is only accepted while its Date is within the skew window (5 min,
-- EWP's minimum) of the server clock, i.e. during at most 2 x skew; keep rows longer
-- than that plus the clock drift between nodes and the database, then delete them in
-- batches from a periodic job (the seen_at index makes this a range scan):
--
--   DELETE FROM httpsig_seen WHERE seen_at < now() - interval '15 minutes';
--
-- seen_at is the database's clock, the same for every node.

CREATE TABLE httpsig_seen (
    -- keyId as httpsig_request_verify computes it: lower-case hex SHA-256 of the
    -- signer's DER SubjectPublicKeyInfo.
    key_id text NOT NULL CHECK (key_id ~ '^[0-9a-f]{64}$'),
    -- X-Request-Id, a canonical lower-case UUID (httpsig_request_id_is_valid).
    request_id text NOT NULL
        CHECK (request_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, request_id)
);

CREATE INDEX httpsig_seen_seen_at ON httpsig_seen (seen_at);

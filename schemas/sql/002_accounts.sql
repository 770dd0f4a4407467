-- Accounts (DESIGN §4): institutions, users with roles, browser sessions, API tokens
-- for publishing, and the append-only audit log every write of mcx records itself in.
-- Secrets are never stored: sessions and tokens keep the SHA-256 of their secret,
-- users an scrypt hash (server/auth.c writes and checks them).

CREATE TABLE institutions (
    -- SCHAC-like home organisation code, e.g. 'vdu.lt'; it appears in URLs.
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9.-]{0,126}$'),
    -- Language map, {"en":"Vytautas Magnus University","lt":"..."}.
    name jsonb NOT NULL CHECK (jsonb_typeof(name) = 'object' AND name <> '{}'::jsonb),
    country char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'), -- ISO 3166-1 alpha-2
    is_home boolean NOT NULL DEFAULT false, -- run by this node, not a partner
    homepage text,
    logo_url text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION institutions_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER institutions_updated_at BEFORE UPDATE ON institutions
    FOR EACH ROW EXECUTE FUNCTION institutions_touch_updated_at();

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND length(email) <= 254),
    -- scrypt$N$r$p$salt$hash (server/auth.c); NULL: cannot sign in with a password.
    password_hash text,
    role text NOT NULL CHECK (role IN ('student', 'publisher', 'registrar', 'admin')),
    institution_id text REFERENCES institutions,
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    -- Publishers and registrars act for one institution; their rights are scoped to it.
    CONSTRAINT users_staff_have_institution
        CHECK (role NOT IN ('publisher', 'registrar') OR institution_id IS NOT NULL)
);

-- Addresses are compared without case: Ada@Example.org and ada@example.org are one user.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_institution_id_idx ON users (institution_id);

CREATE TABLE sessions (
    -- SHA-256 (hex) of the cookie's secret: a leaked table opens no session.
    id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
    user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at); -- for the expiry sweep

CREATE TABLE api_tokens (
    -- The token is mcx_<id>_<secret>; the id finds the row, the secret proves it.
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- No cascade: a token stays on record (and in audit_log) after its user goes.
    user_id uuid NOT NULL REFERENCES users,
    name text,
    secret_hash text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'), -- SHA-256 hex of the secret
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,     -- 'cli:<unix user>', 'user:<uuid>', 'token:<uuid>', 'system'
    action text NOT NULL,    -- 'create', 'revoke', 'update', ...
    entity text NOT NULL,    -- 'institution', 'user', 'api_token', ...
    entity_id text,
    before_hash text,        -- SHA-256 hex of the entity's state before the change:
    after_hash text,         -- audit_hash(to_jsonb(row)), or the entity's content hash
    details jsonb
);

-- The usual before_hash/after_hash: SHA-256 of a row as jsonb text. jsonb orders its
-- keys, so the same row always gives the same hash: audit_hash(to_jsonb(t)).
CREATE FUNCTION audit_hash(doc jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT encode(sha256(convert_to(doc::text, 'UTF8')), 'hex') $$;

CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Append-only (DESIGN §4): history that can be rewritten proves nothing. UPDATE and
-- DELETE are refused per row; TRUNCATE fires no row triggers, so it gets a statement
-- trigger of its own. (A superuser can still drop the triggers; the application role
-- should not own the table.)
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correction as a new row instead.';
END
$$;

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

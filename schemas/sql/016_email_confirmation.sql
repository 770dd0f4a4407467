-- E-mail address confirmation. Whoever signs up may type any address, so what is found
-- by address (the credentials issued to it, their sealed files, a registry credential
-- in a recognition request) is shown only to an account whose address is confirmed:
-- by the link in a confirmation mail, or because an administrator (the admin API,
-- `mcx user add`, `mcx user confirm`) vouched for it.

-- The column's default confirms what staff create; sign-up inserts NULL.
ALTER TABLE users ADD COLUMN email_confirmed_at timestamptz DEFAULT now();
UPDATE users SET email_confirmed_at = NULL
 WHERE id::text IN (SELECT entity_id FROM audit_log
                     WHERE entity = 'user' AND action = 'create' AND details->>'via' = 'sign-up');

-- When the last confirmation mail was asked for: at most one a minute, claimed by a
-- conditional UPDATE of this row, so two requests at once cannot both send one.
ALTER TABLE users ADD COLUMN confirmation_sent_at timestamptz;

-- One row per mail sent: the SHA-256 (hex) of the link's secret, never the secret.
-- A token confirms the address it was sent to, for 48 hours.
CREATE TABLE email_confirmations (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX email_confirmations_user_idx ON email_confirmations (user_id, created_at);

-- Confirms the address a token was sent to. (status, body) as the API answers: 200
-- with the address (again for a token already used), 404 for an unknown token, 410
-- when it expired or the account's address is no longer the one it was sent to.
CREATE FUNCTION email_confirm(p_token_hash text) RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql AS $$
DECLARE
    c email_confirmations;
    u users;
BEGIN
    SELECT * INTO c FROM email_confirmations WHERE token_hash = p_token_hash FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, 'this confirmation link is not known'::text;
        RETURN;
    END IF;
    SELECT * INTO u FROM users WHERE id = c.user_id FOR UPDATE;
    IF lower(u.email) <> lower(c.email) OR (c.used_at IS NULL AND c.expires_at <= now()) THEN
        RETURN QUERY SELECT 410, 'this confirmation link has expired: ask for a new one'::text;
        RETURN;
    END IF;
    IF c.used_at IS NULL THEN
        UPDATE email_confirmations SET used_at = now() WHERE token_hash = p_token_hash;
        IF u.email_confirmed_at IS NULL THEN
            UPDATE users SET email_confirmed_at = now() WHERE id = u.id
            RETURNING * INTO u;
            INSERT INTO audit_log (actor, action, entity, entity_id, details)
            VALUES ('user:' || u.id, 'confirm_email', 'user', u.id::text,
                    jsonb_build_object('email', u.email, 'via', 'link'));
        END IF;
    END IF;
    RETURN QUERY SELECT 200, jsonb_build_object('email', u.email,
        'confirmed_at', to_char(u.email_confirmed_at AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::text;
END
$$;

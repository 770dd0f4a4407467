-- Applications (DESIGN §5 "Catalogue", issue 8): a signed-in student applying to an
-- offer. mcx records that the student was sent on to the provider (the offer's or
-- institution's homepage), once per student and offer; the provider runs its own
-- admission. POST /api/v1/offers/{id}/applications writes the row, its 'application'
-- event (008_events.sql, for the impact figures) and its audit_log entry in one
-- statement (catalogue/applications.c).
CREATE TABLE applications (
    -- An account that is erased takes its applications with it; the events of the
    -- impact figures stay (they name no user).
    user_id uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    -- Offers are tombstoned, not deleted, so this rarely cascades: only when an
    -- operator purges old tombstones.
    offer_id uuid NOT NULL REFERENCES offers ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- One application per student and offer: INSERT … ON CONFLICT DO NOTHING on this
    -- key tells the first request from the repeats, however many run at once.
    PRIMARY KEY (user_id, offer_id)
);

COMMENT ON TABLE applications IS
    'students who applied to an offer through mcx: one row per student and offer';
COMMENT ON COLUMN applications.created_at IS 'the first application (repeats change nothing)';

-- GET /api/v1/me/applications lists a student's newest first; the primary key
-- serves per-user lookups, this one per-offer counts and the cascade from offers.
CREATE INDEX applications_offer_id_idx ON applications (offer_id);

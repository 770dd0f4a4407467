-- Incremental replication (DESIGN §5, issue 6): the documents a harvest of an EWP
-- partner (Courses API responses) or of another mcx node (replication pages, JSON)
-- brought are kept as what they are, not as LOQ.
ALTER TABLE offer_sources DROP CONSTRAINT offer_sources_format_check;
ALTER TABLE offer_sources ADD CONSTRAINT offer_sources_format_check
    CHECK (format IN ('loq', 'elm', 'ewp', 'mcx'));

-- partners.modified_since (005) is the partner's own clock: the newest change a
-- completed incremental run saw, sent back (less a margin) as modified_since.
COMMENT ON COLUMN partners.modified_since IS
    'newest change seen by the last complete incremental harvest, in the partner''s clock';

-- When the last complete full replication ran: an incremental partner is listed in
-- full again once a day, so a deletion an incremental list cannot show (an EWP
-- partner need not list deleted courses; a node may purge old tombstones) is
-- caught within a day.
ALTER TABLE partners ADD COLUMN last_full_at timestamptz;

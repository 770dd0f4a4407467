-- Extensions the catalogue search needs: trigram similarity for typo-tolerant
-- titles (pg_trgm) and accent folding (unaccent). Both ship with PostgreSQL contrib.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- A refresh family is the head of its token chain: its current generation
-- and when it last rotated. A refresh token names its family and
-- generation under the installation's MAC, so a rotation is one UPDATE of
-- this row (no token row written, nothing about the token stored), and any
-- earlier generation presented again is reuse. Families started before
-- this migration keep their chain in refresh_tokens until they expire.
ALTER TABLE refresh_families ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_families ADD COLUMN rotated_at BIGINT;

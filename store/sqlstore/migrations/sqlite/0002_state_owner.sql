-- Version 2: a state may be filed under an owner (a user id) so that
-- DeleteOwnedStates ends all of that user's states at once. NULL means
-- the state is filed under no owner.
ALTER TABLE {{p}}states ADD COLUMN owner TEXT;
CREATE INDEX {{p}}states_owner ON {{p}}states (owner);

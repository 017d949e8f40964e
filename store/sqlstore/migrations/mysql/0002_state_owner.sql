-- Version 2: a state may be filed under an owner (a user id) so that
-- DeleteOwnedStates ends all of that user's states at once. NULL means
-- the state is filed under no owner.
--
-- MySQL commits each DDL statement at once, so a migration interrupted
-- half way is run again from the start. MySQL 8 has no ADD COLUMN IF NOT
-- EXISTS, so each change is prepared only when information_schema says it
-- is missing (DO 0 otherwise).
SET @twofactor_ddl = IF((SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{{p}}states' AND column_name = 'owner') = 0, 'ALTER TABLE {{p}}states ADD COLUMN owner VARBINARY(255) NULL', 'DO 0');
PREPARE twofactor_ddl FROM @twofactor_ddl;
EXECUTE twofactor_ddl;
DEALLOCATE PREPARE twofactor_ddl;
SET @twofactor_ddl = IF((SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '{{p}}states' AND index_name = '{{p}}states_owner') = 0, 'CREATE INDEX {{p}}states_owner ON {{p}}states (owner)', 'DO 0');
PREPARE twofactor_ddl FROM @twofactor_ddl;
EXECUTE twofactor_ddl;
DEALLOCATE PREPARE twofactor_ddl;

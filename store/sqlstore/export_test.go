package sqlstore

import "context"

// MigrateTo applies the migrations up to version and no further, to build
// a database as an earlier release left it.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	ms, err := migrationsFor(s.dialect, s.prefix)
	if err != nil {
		return err
	}
	var upTo []migration
	for _, m := range ms {
		if m.version <= version {
			upTo = append(upTo, m)
		}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	unlock, err := s.migrateLock(ctx, conn)
	if err != nil {
		return err
	}
	err = s.migrateLocked(ctx, conn, upTo)
	if uerr := unlock(err); err == nil {
		err = uerr
	}
	return err
}

package sqlstore

import "context"

// ExecForTest runs raw SQL (written with ? placeholders) on the store's database, as the
// database's owner could.
func (s *Store) ExecForTest(ctx context.Context, query string, args ...any) error {
	_, err := s.db.ExecContext(ctx, s.q(query), args...)
	return err
}

// QueryIntForTest reads one integer with raw SQL.
func (s *Store) QueryIntForTest(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q(query), args...).Scan(&n)
	return n, err
}

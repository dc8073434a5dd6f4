package sqlstore

import (
	"context"
	"errors"
	"fmt"
)

// SkipEventIDs moves the event log's next id gap past its newest event, after the store
// was restored from a backup and before anything writes to it. A console still open on the
// old store resumes with a Last-Event-ID the old store wrote after the backup; the restored
// log may have written a different event under that id since, and the console would take
// it for one it had and miss it. With the gap every event after the restore has an id above
// anything a console saw, and the id a console resumes from is one this log does not hold,
// which the stream answers with a reset (the console reloads its list; see HasEvent). gap
// must exceed the events written between the backup and the restore. It returns the id
// the next event gets.
func (s *AlertService) SkipEventIDs(ctx context.Context, gap int64) (int64, error) {
	if gap <= 0 {
		return 0, errors.New("sqlstore: skip event ids: the gap must be positive")
	}
	var next int64
	err := s.inTx(ctx, func(t *tx) error {
		if s.dialect == postgres {
			// setval(..., v) makes nextval return v+1. The sequence may stand above MAX(id)
			// (rolled back transactions), so the gap counts from the higher of the two.
			return t.row(ctx, `SELECT setval(pg_get_serial_sequence('events', 'id'),
				GREATEST((SELECT COALESCE(MAX(id), 0) FROM events), nextval(pg_get_serial_sequence('events', 'id'))) + ?) + 1`, gap).Scan(&next)
		}
		// AUTOINCREMENT keeps the highest id ever used in sqlite_sequence; an event log that
		// never had an event has no row there yet.
		var cur int64
		if err := t.row(ctx, `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
			(SELECT COALESCE(MAX(id), 0) FROM events))`).Scan(&cur); err != nil {
			return err
		}
		r, err := t.exec(ctx, `UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'`, cur+gap)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := t.exec(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)`, cur+gap); err != nil {
				return err
			}
		}
		next = cur + gap + 1
		return nil
	})
	if err != nil {
		return 0, storeErr("skip event ids", err)
	}
	return next, nil
}

// HasEvent reports whether the event log holds the event id. Events are never deleted, so
// an id a client was sent and this log does not hold means the client followed another
// store (a restored backup, a replaced database): the stream tells it to reload.
func (s *AlertService) HasEvent(ctx context.Context, id int64) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM events WHERE id = ?`), id).Scan(&n); err != nil {
		return false, storeErr("has event", fmt.Errorf("%d: %w", id, err))
	}
	return n > 0, nil
}

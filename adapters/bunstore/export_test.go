package bunstore

import "time"

// RunCheckpoint runs one of s's checkpoints of SQLite's log now, as a
// write would start it in the background, and returns the gap it set
// before the next; ok is false when s runs none.
func RunCheckpoint(s *Store) (gap time.Duration, ok bool) {
	if s.ckpt == nil {
		return 0, false
	}
	s.ckpt.mu.Lock() // as kick does; run unlocks
	s.ckpt.run()
	return s.ckpt.gap, true
}

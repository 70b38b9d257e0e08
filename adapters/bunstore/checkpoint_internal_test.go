package bunstore

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// openCheckpointed opens a migrated SQLite file (openForPlan: ModerncDSN)
// and checkpoints its log whole, so that its file holds every page.
func openCheckpointed(t *testing.T) (db *bun.DB, path string) {
	t.Helper()
	db = openForPlan(t, "sqlite")
	var seq int
	var name string
	if err := db.QueryRowContext(t.Context(), "PRAGMA database_list").Scan(&seq, &name, &path); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	return db, path
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// saveCards writes n cards from first on, in transactions of 50.
func saveCards(t *testing.T, s *Store, first, n int) {
	t.Helper()
	for i := first; i < first+n; i += 50 {
		err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			cs := make([]card.Card, 0, 50)
			for j := i; j < i+50 && j < first+n; j++ {
				cs = append(cs, variedCard(j))
			}
			return tx.SaveNew(ctx, cs, events.Created(card.Create, time.Now()))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A store over SQLite checkpoints the write-ahead log itself after its
// writes: the pages they wrote reach the database file, although the
// connections' wal_autocheckpoint (DSNAutoCheckpoint, set by ModerncDSN)
// is far from reached. With WithCheckpoints(false) they stay in the log.
func TestCheckpointsAfterWrites(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("checkpoints=", on), func(t *testing.T) {
			db, path := openCheckpointed(t)
			var auto int
			if err := db.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
				t.Fatal(err)
			}
			if auto != DSNAutoCheckpoint {
				t.Errorf("wal_autocheckpoint %d, want ModerncDSN's %d", auto, DSNAutoCheckpoint)
			}
			before := fileSize(t, path)
			s, err := New(t.Context(), db, WithCheckpoints(on))
			if err != nil {
				t.Fatal(err)
			}
			if (s.ckpt != nil) != on {
				t.Fatalf("checkpointer %v, want one: %v", s.ckpt, on)
			}
			saveCards(t, s, 0, 1000)
			if on {
				// The first write started a checkpoint at once; Close waits
				// for one still running.
				for deadline := time.Now().Add(10 * time.Second); s.ckpt.runs.Load() == 0; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("no checkpoint ran in 10 s after the writes")
					}
				}
			} else {
				time.Sleep(50 * time.Millisecond) // what a checkpoint would have had
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			grew := fileSize(t, path) > before
			if grew != on {
				t.Errorf("the database file grew: %v (%d bytes before), want %v", grew, before, on)
			}
		})
	}
}

// Each checkpoint that finds few pages in the log doubles the gap before
// the next, up to checkpointIdle; one that finds many resets it.
func TestCheckpointGap(t *testing.T) {
	db, _ := openCheckpointed(t)
	s, err := New(t.Context(), db, WithCheckpoints(false)) // writes, and no checkpoints but c's
	if err != nil {
		t.Fatal(err)
	}
	c := newCheckpointer(db.DB)
	run := func() { c.mu.Lock(); c.run() } // as kick does, in the test's goroutine
	for _, want := range []time.Duration{10, 20, 40} {
		start := time.Now()
		run()
		if c.gap != want*time.Millisecond {
			t.Errorf("gap after a checkpoint of an empty log: %v, want %v", c.gap, want*time.Millisecond)
		}
		if next := time.Unix(0, c.next.Load()); next.Before(start.Add(c.gap)) {
			t.Errorf("next checkpoint at %v, before %v", next, start.Add(c.gap))
		}
	}
	for range 20 {
		run()
	}
	if c.gap != checkpointIdle {
		t.Errorf("gap after many checkpoints of an empty log: %v, want %v", c.gap, checkpointIdle)
	}
	saveCards(t, s, 0, 500)
	run()
	if c.gap != checkpointGap {
		t.Errorf("gap after a checkpoint of %d+ pages: %v, want %v", checkpointFew, c.gap, checkpointGap)
	}
	if busy(c) {
		t.Error("busy after run returned")
	}
	c.next.Store(time.Now().Add(time.Hour).UnixNano())
	c.kick() // within the gap: no checkpoint
	if busy(c) || c.runs.Load() != 24 {
		t.Errorf("kick within the gap: busy %v, %d runs, want none after 24", busy(c), c.runs.Load())
	}
	c.next.Store(0)
	c.kick() // past it: one, in a goroutine of its own
	for deadline := time.Now().Add(10 * time.Second); c.runs.Load() != 25; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("kick past the gap: %d runs after 10 s, want 25", c.runs.Load())
		}
	}
}

// busy reports whether a checkpoint of c runs.
func busy(c *checkpointer) bool {
	if c.mu.TryLock() {
		c.mu.Unlock()
		return false
	}
	return true
}

// Close waits for the checkpoint running, and no kick starts one after it.
func TestCloseWaitsForTheCheckpoint(t *testing.T) {
	db, _ := openCheckpointed(t)
	s, err := New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	s.ckpt.mu.Lock() // a checkpoint running, as kick locks for one
	closed := make(chan struct{})
	go func() {
		_ = s.Close()
		close(closed)
	}()
	for !s.ckpt.closed.Load() {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a checkpoint ran")
	case <-time.After(50 * time.Millisecond):
	}
	s.ckpt.run() // the checkpoint ends, and unlocks
	<-closed
	runs := s.ckpt.runs.Load()
	s.ckpt.next.Store(0)
	saveCards(t, s, 0, 50) // the store still writes, and its writes kick
	s.ckpt.kick()
	if busy(s.ckpt) || s.ckpt.runs.Load() != runs {
		t.Errorf("after Close: busy %v, %d runs, want none after %d", busy(s.ckpt), s.ckpt.runs.Load(), runs)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// TestPurge runs "cardcore purge" on a SQLite file holding events 40 days
// old, one young event and an idempotency record: with no subscription the
// old events go (all but the feed's head), the young one and the record
// (younger than 7 days) stay.
// event returns an event of org acme that occurred age ago.
func event(age time.Duration) events.Event {
	return events.Event{
		ID: uuid.NewString(), Domain: events.Domain, Type: events.CardUpdated,
		SchemaVersion: events.SchemaVersion, OrgID: "acme", CID: uuid.NewString(),
		Timestamp: time.Now().UTC().Add(-age), Data: json.RawMessage(`{"card_id": 1}`), CardID: 1,
	}
}

func TestPurge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "purge.db")
	core := migratedFile(t, path)
	err := core.Store.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		key := storage.IdempotencyKey{OrgID: "acme", Scope: "purge-test", Key: "k1"}
		if _, _, err := tx.Claim(ctx, key, "fp"); err != nil {
			return err
		}
		return tx.Append(ctx, event(40*24*time.Hour), event(40*24*time.Hour), event(40*24*time.Hour), event(time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"purge", "--help"}, exitOK, "", "-keys-retention duration"},
		{"keys retention under a day", []string{"purge", "--db", path, "--keys-retention", "23h"}, exitUsage, "", "--keys-retention must be at least 24h"},
		{"no retention", []string{"purge", "--db", path, "--retention", "0s"}, exitUsage, "", "--retention must be positive"},
		{"purge", []string{"purge", "--db", path}, exitOK, "events: 3\nidempotency keys: 0\n", ""},
		{"purge again", []string{"purge", "--db", path, "--retention", "1m", "--keys-retention", "24h"}, exitOK, "events: 0\nidempotency keys: 0\n", ""},
		{"serve refuses a short keys retention", []string{"serve", "--db", path, "--purge-every", "1h", "--keys-retention", "1h"}, exitUsage, "", "--keys-retention"},
		{"relay takes --purge-every", []string{"relay", "--help"}, exitOK, "", "-purge-every duration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, stdout with %q, stderr with %q", code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
	feed, err := core.Store.After(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 1 || feed[0].Seq != 4 {
		t.Errorf("after the purge the feed holds %s, want the young event at 4", fmt.Sprint(feed))
	}
}

// TestPurgeOnSchedule runs the loop of --purge-every: it deletes the old
// events at its first tick and stops with its context.
func TestPurgeOnSchedule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "schedule.db")
	core := migratedFile(t, path)
	err := core.Store.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.Append(ctx, event(40*24*time.Hour), event(40*24*time.Hour), event(40*24*time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	cfg := &purgeConfig{retention: defaultRetention, keysRetention: defaultKeysRetention, batch: 1, every: 10 * time.Millisecond}
	go func() {
		defer close(done)
		purgeOnSchedule(ctx, slog.New(slog.DiscardHandler), core.Store, cfg)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		feed, err := core.Store.After(t.Context(), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(feed) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled purge left %d events, want 1", len(feed))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// migratedFile runs "cardcore migrate" on a new SQLite file at path and
// returns cardcore over it, closed when t ends.
func migratedFile(t *testing.T, path string) *cardcore.Core {
	t.Helper()
	if code, _, errOut := runCmd(t, "migrate", "--db", path); code != exitOK {
		t.Fatalf("migrate: exit %d; stderr:\n%s", code, errOut)
	}
	db, _, err := openDB(t.Context(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	core, err := cardcore.New(t.Context(), db, cardcore.WithMigrations(cardcore.CheckMigrations))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = core.Close() })
	return core
}

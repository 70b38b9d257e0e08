package bunstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/internal/faultdb"
	"github.com/cardcore/cardcore/storage"
)

// A checkpoint of SQLite's log that fails (refused, or its answer lost)
// changes nothing the store holds: it returns, the next waits twice as
// long and checkpoints the log, and the store goes on reading and
// writing. One whose connection breaks runs again on another.
func TestCheckpointFailuresAreHarmless(t *testing.T) {
	for _, mode := range []faultdb.Mode{faultdb.Fail, faultdb.Lost, faultdb.Break} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := t.Context()
			db := faultdb.Open(t, "sqlite")
			// Pages for the log, written past the plan: 300 endpoints with a
			// description of 2 KiB each.
			direct, err := bunstore.New(ctx, db.Direct, bunstore.WithCheckpoints(false))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for range 300 {
				ep := storage.WebhookEndpoint{OrgID: "org", URL: "https://203.0.113.10/", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
					Description: strings.Repeat("d", 2048), Enabled: true}
				if err := direct.CreateEndpoint(ctx, &ep); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, ep.ID)
			}
			s, err := bunstore.New(ctx, db.Faulty)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			db.Plan.Start(&faultdb.Fault{Kind: faultdb.Statement, N: 1, Mode: mode})
			gap, ok := bunstore.RunCheckpoint(s)
			run := db.Plan.Stop()
			if !ok {
				t.Fatal("the store runs no checkpoints")
			}
			if run.Fired == nil || !strings.Contains(run.Fired.Query, "wal_checkpoint") {
				t.Fatalf("the fault fired on %v, want the checkpoint; operations: %v", run.Fired, run.Trace)
			}
			// A broken connection is database/sql's to replace: it runs the
			// checkpoint again on another, which checkpoints 300+ pages.
			want := 10 * time.Millisecond
			if mode == faultdb.Break {
				want = 5 * time.Millisecond
			}
			if gap != want {
				t.Errorf("gap after the faulted checkpoint: %v, want %v", gap, want)
			}
			if gap, _ = bunstore.RunCheckpoint(s); gap != 5*time.Millisecond {
				t.Errorf("gap after the next checkpoint, of a log of 300+ pages: %v, want 5ms", gap)
			}
			eps, err := s.Endpoints(ctx, "org")
			if err != nil || len(eps) != 300 {
				t.Fatalf("endpoints after the faulted checkpoint: %d, %v; want 300", len(eps), err)
			}
			if err := s.DeleteEndpoint(ctx, "org", ids[7]); err != nil {
				t.Fatalf("a write after the faulted checkpoint: %v", err)
			}
		})
	}
}

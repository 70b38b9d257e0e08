package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bench runs every workload through the use cases and prints one JSON
// line per result with the baseline's keys and peak_rss_mib.
func TestBench(t *testing.T) {
	for _, db := range benchTargets(t) {
		t.Run(db.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := []string{"bench", "--workload", "all", "--workers", "1,3", "--duration", "300ms",
				"--warmup", "50ms", "--n", "300", "--bind-n", "300"}
			if db.target != "" {
				args = append(args, "--db", db.target)
			}
			if code := run(t.Context(), args, &out, &errOut); code != exitOK {
				t.Fatalf("bench exited %d; stderr:\n%s", code, errOut.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			want := map[string]int{"read": 2, "transition": 2, "bind": 2, "reissue": 2, "bulk": 1}
			for _, line := range lines {
				var r map[string]any
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("not a JSON line: %q: %v", line, err)
				}
				for _, k := range []string{"db", "workload", "workers", "ops_per_s", "p50_us", "p99_us", "peak_rss_mib"} {
					if _, ok := r[k]; !ok {
						t.Errorf("line %s lacks %q", line, k)
					}
				}
				if r["db"] != db.name || r["ops_per_s"].(float64) <= 0 || r["peak_rss_mib"].(float64) <= 0 {
					t.Errorf("implausible result %s", line)
				}
				if r["errors"].(float64) != 0 || r["conflicts"].(float64) != 0 {
					t.Errorf("operations failed: %s", line)
				}
				want[r["workload"].(string)]--
			}
			for w, n := range want {
				if n != 0 {
					t.Errorf("workload %s: %d results missing (or extra); output:\n%s", w, n, out.String())
				}
			}
		})
	}
}

type benchTarget struct{ name, target string }

// benchTargets is SQLite (a temporary file of the bench's own) and, when
// CARDCORE_TEST_PG_DSN is set, a fresh PostgreSQL schema.
func benchTargets(t *testing.T) []benchTarget {
	ts := []benchTarget{{"sqlite", filepath.Join(t.TempDir(), "bench.db")}}
	if os.Getenv("CARDCORE_TEST_PG_DSN") != "" {
		ts = append(ts, benchTarget{"postgres", postgresURL(t)})
	}
	return ts
}

// The ceilings of the per-request workloads send cardcore's SQL raw on the
// same fixtures, and really write: every status change a transition
// ceiling reports raised a card's version and appended its event, every
// bind it reports left a CREATED card of the account, and every event
// names its own card.
func TestBenchRequestCeilings(t *testing.T) {
	for _, db := range benchTargets(t) {
		t.Run(db.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			// No warm-up: every operation that succeeded is counted in ops.
			args := []string{"bench", "--workload", "read-ceiling,transition-ceiling,bind-ceiling", "--workers", "1,3",
				"--duration", "300ms", "--warmup", "0s", "--n", "300", "--bind-n", "300", "--db", db.target}
			if code := run(t.Context(), args, &out, &errOut); code != exitOK {
				t.Fatalf("bench exited %d; stderr:\n%s", code, errOut.String())
			}
			ops := map[string]int64{}
			lines := 0
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var r benchResult
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("not a JSON line: %q: %v", line, err)
				}
				if r.DB != db.name || r.Ops <= 0 || r.OpsPerS <= 0 || r.Errors != 0 || r.Conflicts != 0 {
					t.Errorf("implausible result %s", line)
				}
				ops[r.Workload] += r.Ops
				lines++
			}
			if lines != 6 || ops["read-ceiling"] == 0 || ops["transition-ceiling"] == 0 || ops["bind-ceiling"] == 0 {
				t.Fatalf("want a line per ceiling and worker count, each with operations; output:\n%s", out.String())
			}
			sqldb, _, err := openDB(t.Context(), db.target, false)
			if err != nil {
				t.Fatal(err)
			}
			defer sqldb.Close()
			count := func(q string) int64 {
				t.Helper()
				var n int64
				if err := sqldb.DB.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			}
			// The fixtures are in orgs bench-*: TEMPORARY cards for read and
			// transition (read's must not change), noname PLASTIC cards for
			// bind; each card was created with one event.
			const fixtures = "org_id LIKE 'bench-%'"
			if got, want := count("SELECT COALESCE(SUM(version - 1), 0) FROM cardcore_cards WHERE "+fixtures+" AND type = 'TEMPORARY'"), ops["transition-ceiling"]; got != want {
				t.Errorf("transition-ceiling reported %d changes, the cards' versions rose by %d", want, got)
			}
			if got, want := count("SELECT count(*) FROM cardcore_cards WHERE "+fixtures+" AND status = 'CREATED' AND version = 2 AND account_id = '1001'"), ops["bind-ceiling"]; got != want {
				t.Errorf("bind-ceiling reported %d binds, %d cards are bound", want, got)
			}
			if got := count("SELECT count(*) FROM cardcore_cards WHERE " + fixtures + " AND status = 'UNBOUND' AND version <> 1"); got != 0 {
				t.Errorf("%d UNBOUND cards were changed", got)
			}
			events := count("SELECT count(*) FROM cardcore_outbox WHERE " + fixtures)
			cards := count("SELECT count(*) FROM cardcore_cards WHERE " + fixtures)
			if got, want := events-cards, ops["transition-ceiling"]+ops["bind-ceiling"]; got != want {
				t.Errorf("the ceilings reported %d changes, the outbox gained %d events beyond the cards' creations", want, got)
			}
			if got := count("SELECT count(*) FROM cardcore_outbox WHERE " + fixtures + ` AND data NOT LIKE '%"card_id":' || card_id || ',%'`); got != 0 {
				t.Errorf("%d events do not name their card in their data", got)
			}
			if got, want := count("SELECT count(DISTINCT event_id) FROM cardcore_outbox WHERE "+fixtures), events; got != want {
				t.Errorf("%d events, %d event ids", want, got)
			}
		})
	}
}

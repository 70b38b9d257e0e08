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

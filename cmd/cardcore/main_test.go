package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
)

// demoSteps are what the demo's output must mention, in this order.
var demoSteps = []string{
	"1. migrate",
	"created      card", "PLASTIC    CREATED",
	"VIRTUAL    NORMAL", "CVV rotates every 24 h",
	"TEMPORARY  NORMAL",
	"RECURRING  NORMAL", "RECURRING is deprecated",
	"validity period 24 h",
	"block        card", "NORMAL -> BLOCKED",
	"unblock      card", "BLOCKED -> NORMAL",
	"same status", "no event",
	"activate     card", "CREATED -> NORMAL",
	"only PLASTIC cards are activated",
	"cancel       card", "NORMAL -> CANCELED",
	"reopen", "conflict: update_status", "from CANCELED to NORMAL",
	"by hand", "from NORMAL to INOPERATIVE",
	"replay", "nothing written",
	"other body", "different request",
	"5. reissue and noname", "reason", "DAMAGED",
	"reissue", "NORMAL -> REISSUED; successor card",
	"successor", "CREATED, track number 2",
	"again: the same successor",
	"activate", "predecessor", "REISSUED -> CANCELED",
	"bulk", "STARTED: 3 external ids", "UNBOUND:3",
	"bind", "UNBOUND -> CREATED",
	"bind again", "refused: conflict: bind",
	"cancel bulk", "FULL", "bulk CANCELED", "CREATED:1 CANCELED:2",
	"6. sweep", "inoperative 1", "NORMAL -> INOPERATIVE",
	"renew", "INOPERATIVE -> NORMAL",
	"expired 5", "NORMAL -> EXPIRED",
	"8. deliver the org's events",
	`"event_type":"create-1"`, `"event_type":"update-1"`, `"event_type":"bind_card-1"`, `"event_type":"noname_cancellation-1"`,
	"subscription demo:", "dropped",
}

// checkDemo checks the demo's output mentions every step in order, and that
// it printed as many envelopes as it says it relayed.
func checkDemo(t *testing.T, out string) {
	t.Helper()
	rest := out
	for _, step := range demoSteps {
		i := strings.Index(rest, step)
		if i < 0 {
			t.Fatalf("demo output lacks %q after the previous steps; output:\n%s", step, out)
		}
		rest = rest[i+len(step):]
	}
	m := regexp.MustCompile(`relayed (\d+) events`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("demo output has no relay count:\n%s", out)
	}
	relayed, _ := strconv.Atoi(m[1])
	envelopes := regexp.MustCompile(`(?m)^  #\d+ \{"event_id":.*$`).FindAllString(out, -1)
	if len(envelopes) != relayed || relayed < 15 {
		t.Errorf("demo printed %d envelopes and says it relayed %d; want equal and at least 15", len(envelopes), relayed)
	}
	org := regexp.MustCompile(`(?m)^  org +(\S+)`).FindStringSubmatch(out)
	if org == nil {
		t.Fatalf("demo output names no org:\n%s", out)
	}
	for _, e := range envelopes {
		if !strings.Contains(e, `"org_id":"`+org[1]+`"`) {
			t.Errorf("the demo of org %s relayed an event of another org: %s", org[1], e)
		}
	}
}

// checkRelayed checks that the demos left no subscription behind in the
// SQLite file at path, which would hold back the purge of every event.
func checkRelayed(t *testing.T, path string) {
	t.Helper()
	n, err := testdb.SQLite(t, path).NewSelect().TableExpr("cardcore_subscriptions").Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the demo left %d subscriptions in the database", n)
	}
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDemo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.db")
	// Twice on one file: a second run makes its own org and ignores the
	// first run's cards, which are all terminated.
	for i := range 2 {
		code, out, errOut := runCmd(t, "demo", "--db", path)
		if code != exitOK {
			t.Fatalf("run %d: demo exited %d; stderr:\n%s\nstdout:\n%s", i, code, errOut, out)
		}
		checkDemo(t, out)
		if !strings.Contains(errOut, `msg="demo done"`) {
			t.Errorf("run %d: stderr lacks the demo's log:\n%s", i, errOut)
		}
	}
	checkRelayed(t, path)
}

func TestDemoPostgres(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "--db", postgresURL(t))
	if code != exitOK {
		t.Fatalf("demo exited %d; stderr:\n%s\nstdout:\n%s", code, errOut, out)
	}
	checkDemo(t, out)
}

func TestCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cmd.db")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a substring of stdout
		stderr string // a substring of stderr
	}{
		{"no command", nil, exitUsage, "", "usage: cardcore <command>"},
		{"help", []string{"help"}, exitOK, "sweep", ""},
		{"help lists serve", []string{"--help"}, exitOK, "serve    serve the reference HTTP API", ""},
		{"help lists token", []string{"-h"}, exitOK, "token    mint a bearer token", ""},
		{"serve help", []string{"serve", "--help"}, exitOK, "", "-sweep-every duration"},
		{"token help", []string{"token", "-h"}, exitOK, "", "-account-id string"},
		{"unknown command", []string{"serve-all"}, exitUsage, "", `unknown command "serve-all"`},
		{"demo help", []string{"demo", "--help"}, exitOK, "", "-db string"},
		{"migrate help", []string{"migrate", "--help"}, exitOK, "", "-db string"},
		{"sweep help", []string{"sweep", "--help"}, exitOK, "", "-batch int"},
		{"bad flag", []string{"sweep", "--nope"}, exitUsage, "", "flag provided but not defined"},
		{"extra argument", []string{"migrate", "now"}, exitUsage, "", `unexpected argument "now"`},
		{"sweep before migrate", []string{"sweep", "--db", path}, exitError, "", "cardcore migrate"},
		{"migrate", []string{"migrate", "--db", path}, exitOK, "migrated SQLite file", ""},
		{"migrate again", []string{"migrate", "--db", path}, exitOK, "migrated SQLite file", ""},
		{"sweep", []string{"sweep", "--db", path, "--batch", "10"}, exitOK, "expired: 0\ninoperative: 0\n", ""},
		{"bad batch", []string{"sweep", "--db", path, "--batch", "0"}, exitError, "", "sweep batch must be positive"},
		{"path with query", []string{"migrate", "--db", path + "?mode=ro"}, exitError, "", "may not contain"},
		{"bad postgres URL", []string{"migrate", "--db", "postgres://u:hunter2@host:99999999/db"}, exitError, "", "not a valid PostgreSQL URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errOut)
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Errorf("a password reached the output:\n%s\n%s", out, errOut)
			}
		})
	}
}

// TestBinary builds the command and runs its demo as a user would.
func TestBinary(t *testing.T) {
	bin := buildCommand(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "demo.db")
	cmd := exec.CommandContext(t.Context(), bin, "demo", "--db", path)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("cardcore demo: %v; stderr:\n%s\nstdout:\n%s", err, errOut.String(), out.String())
	}
	checkDemo(t, out.String())
	checkRelayed(t, path)

	cmd = exec.CommandContext(t.Context(), bin, "sweep", "--db", filepath.Join(dir, "missing.db"))
	if err := cmd.Run(); err == nil {
		t.Error("cardcore sweep on a missing file exited 0")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !os.IsNotExist(err) {
		t.Errorf("cardcore sweep created the missing database file (stat: %v)", err)
	}
}

// postgresURL returns the URL of a fresh schema of the database named by
// CARDCORE_TEST_PG_DSN, dropped when t ends. It skips t when the variable
// is unset. The command opens databases by URL, so it cannot use
// testdb.Postgres, which hands out an open *bun.DB.
func postgresURL(t *testing.T) string { return pgschema.URL(t, "cardcore_cmd_test_") }

package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/uptrace/bun"
)

// Two processes on one SQLite file (SPEC 11): while the test holds the
// file's write lock, with a write pending, longer than serve's busy
// timeout, creating a card answers 503 with Retry-After and the error
// body, not 500; once the lock is released, the same request creates the
// card.
func TestServeAnswers503WhileAnotherProcessWrites(t *testing.T) {
	bin := buildCommand(t)
	path := filepath.Join(t.TempDir(), "busy.db")
	env := append(os.Environ(), secretEnv+"="+newSecret(t))
	base, log := startServe(t, bin, env, "--db", path, "--sqlite-busy-timeout", "200ms")
	if want := "synchronous FULL, busy timeout 200ms"; !strings.Contains(log.String(), want) {
		t.Errorf("serve's log does not report %q:\n%s", want, log)
	}
	token := mintToken(t, bin, env, "--server")
	create := func() (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/wallet/v2/cards",
			strings.NewReader(`{"type":"PLASTIC"}`))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json",
			"x-account-id": "1001", "x-customer-id": "2001", "x-idempotency-key": "busy-1"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}

	other, err := sql.Open("sqlite", bunstore.ModerncDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // released below on success
	if _, err := tx.ExecContext(t.Context(), "UPDATE cardcore_cards SET version = version"); err != nil {
		t.Fatal(err)
	}

	resp, body := create()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Retry-After") != "1" || e.Code != "unavailable" || e.Message == "" {
		t.Fatalf("create while another process holds the write lock: %d, Retry-After %q, %s; want 503, Retry-After 1 and the error body",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if resp, body := create(); resp.StatusCode != http.StatusCreated {
		t.Fatalf("the same create once the lock is released: %d %s, want 201", resp.StatusCode, body)
	}
}

// The commands that open SQLite (serve, migrate, sweep, relay, purge,
// subscriptions) open it with synchronous FULL (2) and a busy timeout of
// 5 s unless --sqlite-synchronous and --sqlite-busy-timeout say otherwise.
func TestSQLiteFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.db")
	for _, c := range []struct {
		args              []string
		synchronous, busy int
	}{
		{nil, 2, 5000},
		{[]string{"--sqlite-synchronous", "NORMAL"}, 1, 5000},
		{[]string{"--sqlite-synchronous", "full", "--sqlite-busy-timeout", "250ms"}, 2, 250},
	} {
		for _, cmd := range []string{"serve", "migrate", "sweep", "relay", "purge", "subscriptions"} {
			fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			for _, co := range commands {
				if co.name == cmd {
					co.setup(fs)
				}
			}
			if err := fs.Parse(append([]string{"--db", path}, c.args...)); err != nil {
				t.Errorf("cardcore %s %v: %v", cmd, c.args, err)
			}
		}
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		target := dbFlag(fs, "")
		if err := fs.Parse(append([]string{"--db", path}, c.args...)); err != nil {
			t.Fatal(err)
		}
		db, _, err := target.open(t.Context(), true)
		if err != nil {
			t.Fatal(err)
		}
		if got := pragma(t, db, "synchronous"); got != c.synchronous {
			t.Errorf("%v: PRAGMA synchronous = %d, want %d", c.args, got, c.synchronous)
		}
		if got := pragma(t, db, "busy_timeout"); got != c.busy {
			t.Errorf("%v: PRAGMA busy_timeout = %d, want %d", c.args, got, c.busy)
		}
		db.Close()
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbFlag(fs, "")
	if err := fs.Parse([]string{"--sqlite-synchronous", "OFF"}); err == nil {
		t.Error("--sqlite-synchronous OFF was accepted")
	}
}

func pragma(t *testing.T, db *bun.DB, name string) int {
	t.Helper()
	var v int
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

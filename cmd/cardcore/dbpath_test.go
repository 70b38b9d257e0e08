package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDBFlagErrors: a --db that cannot be opened is refused with words
// that name the problem, never SQLite's "out of memory (14)", never the
// URL's password, and nothing is created.
func TestDBFlagErrors(t *testing.T) {
	t.Setenv(panKeyEnv, "")
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexistent")
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := newSecret(t)
	for _, tt := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"serve in a missing directory", []string{"serve", "--jwt-secret", secret, "--addr", "127.0.0.1:0", "--db", filepath.Join(missing, "x.db")},
			"directory " + missing + " does not exist"},
		{"migrate in a missing directory", []string{"migrate", "--db", filepath.Join(missing, "deeper", "x.db")},
			"directory " + filepath.Join(missing, "deeper") + " does not exist"},
		{"sweep in a missing directory", []string{"sweep", "--db", filepath.Join(missing, "x.db")},
			"directory " + missing + " does not exist"},
		{"demo in a missing directory", []string{"demo", "--db", filepath.Join(missing, "x.db")},
			"directory " + missing + " does not exist"},
		{"mysql URL", []string{"migrate", "--db", "mysql://u:hunter2@db.example/cards"},
			"unknown database scheme mysql: use a SQLite file path or a postgres:// URL"},
		{"sqlite URL", []string{"serve", "--jwt-secret", secret, "--db", "sqlite://cards.db"},
			"unknown database scheme sqlite: use a SQLite file path or a postgres:// URL"},
		{"a directory", []string{"migrate", "--db", dir}, dir + " is a directory"},
		{"under a file", []string{"migrate", "--db", filepath.Join(file, "x.db")}, file + " is not a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != exitError || out != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, out, exitError)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errOut)
			}
			for _, bad := range []string{"out of memory", "hunter2"} {
				if strings.Contains(errOut, bad) {
					t.Errorf("stderr says %q:\n%s", bad, errOut)
				}
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused command made %s (stat: %v)", missing, err)
	}
	if _, err := os.Stat("cards.db"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a sqlite:// URL made a file cards.db (stat: %v)", err)
	}
}

// codedError is an error with a SQLite result code, as modernc.org/sqlite's.
type codedError int

func (e codedError) Error() string { return "unable to open database file: out of memory (14)" }
func (e codedError) Code() int     { return int(e) }

// TestCantOpen: SQLITE_CANTOPEN (also as an extended code) is reworded;
// other errors pass as they are.
func TestCantOpen(t *testing.T) {
	for _, code := range []int{14, 14 | 1<<8} {
		if err := cantOpen(codedError(code)); strings.Contains(err.Error(), "out of memory") || !strings.Contains(err.Error(), "cannot open the file") {
			t.Errorf("code %d: %v", code, err)
		}
	}
	busy := codedError(5)
	if err := cantOpen(busy); !errors.Is(err, busy) {
		t.Errorf("SQLITE_BUSY became %v", err)
	}
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// urlScheme matches the scheme of a URL, e.g. "mysql" of "mysql://host/db".
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// checkSQLitePath refuses a --db that is not a PostgreSQL URL and cannot
// name a SQLite file, in words that name the problem, rather than letting
// SQLite report "out of memory (14)": the URL of another database (its
// scheme only, never the URL and its password), a directory, or a file in
// a directory that does not exist.
func checkSQLitePath(target string) error {
	if m := urlScheme.FindStringSubmatch(target); m != nil {
		return fmt.Errorf("--db: unknown database scheme %s: use a SQLite file path or a postgres:// URL", m[1])
	}
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		return fmt.Errorf("--db: %s is a directory: name a SQLite file in it", target)
	}
	dir := filepath.Dir(target)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--db: directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("--db: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("--db: %s is not a directory", dir)
	}
	return nil
}

// sqliteCantOpen is SQLITE_CANTOPEN, which modernc.org/sqlite reports as
// "unable to open database file: out of memory (14)".
const sqliteCantOpen = 14

// cantOpen rewords SQLite's failure to open the file (a directory it may
// not write, a file it may not read) so that it does not read as a lack
// of memory; any other error is returned as it is.
func cantOpen(err error) error {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code()&0xff == sqliteCantOpen {
		return errors.New("SQLite cannot open the file: check that it and its directory may be read and written")
	}
	return err
}

// Package testdb opens the real databases the tests run against: a SQLite
// file in the test's temporary directory (modernc.org/sqlite, pure Go) and,
// when CARDCORE_TEST_PG_DSN is set, PostgreSQL through pgx, each test in a
// schema of its own. Only tests import it; the library never picks a driver.
//
// Each runs a test once per database as subtests; Open returns a migrated,
// empty database of one kind. Without CARDCORE_TEST_PG_DSN the PostgreSQL
// subtests are skipped with a message, so `go test ./...` passes on a machine
// without a server, and CI sets the variable so they run. A test's schema is
// dropped when the test ends.
package testdb

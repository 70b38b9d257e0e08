// Package faultdb is a database/sql driver for tests that wraps a real one
// (modernc.org/sqlite, pgx's stdlib) and fails, on demand, one operation
// of those that reach it: the Nth statement, prepare, begin or commit, or
// the Nth time the pool hands out a connection it had. Only tests import
// it; the library never picks a driver.
//
// A Plan is shared by every connection of one *sql.DB. Between Start and
// Stop it counts the operations by Kind, in the order the driver sees them,
// and fails the one its Fault names, in the fault's Mode:
//
//   - Fail: the operation is refused before it runs, with *Error; the
//     connection stays usable. A failed commit rolls the transaction back
//     first, so nothing of it is kept.
//   - Lost: the operation runs, then *Error is returned: the database did
//     the work and its answer was lost. On a commit, the transaction is
//     committed; this is the hard case for a caller's retry.
//   - Break: the connection is lost before the operation runs:
//     driver.ErrBadConn, now and for every later use of that connection,
//     which database/sql then discards (rolling back what it had open).
//     As the driver contract says, database/sql retries an operation outside
//     a transaction on another connection; inside one, the caller gets the
//     error.
//   - Retryable: refused before it runs with *SerializationFailure, which
//     reports SQLSTATE 40001 as PostgreSQL's serialization failure does; a
//     commit is rolled back first.
//   - Stall: the operation blocks before it runs and never returns, and
//     Plan.Stalled is closed: a process stopped in the middle of a
//     transaction, for a test that then kills it (SIGKILL).
//
// Statements are every Exec and Query, on a connection or through a
// prepared statement; Prepare, Begin and Commit are counted apart, and
// Reset counts the reuses of a pooled connection (driver.SessionResetter),
// where only Break applies. Rows are the real driver's, untouched. On the
// database "pgx" of Open, the faults are on PostgreSQL's wire instead, one
// round trip at a time (Kind RoundTrip, modes Break and Lost; wire.go).
//
// Open gives a test a migrated database of either kind twice: through a
// plan, and directly, to read what the store holds past the faults.
package faultdb

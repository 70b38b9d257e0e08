// Package storagetest is the conformance suite of the storage ports. Every
// storage.Store implementation runs it from its own tests, so the use cases
// can rely on the promises written in packages storage and events whatever
// the database behind them:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			return openStore(t) // fresh, empty, migrated; closed with t.Cleanup
//		})
//	}
//
// Each check runs in its own subtest against its own store, so a failure
// names the promise that broke and cannot leak into the next check. The
// checks are grouped, and filed, by the role of package storage they hold
// to its word: Cards (cards.go), CardWriter (writer.go), Sweeps
// (sweeps.go), Idempotency (idempotency.go), ReasonWriter (reasons.go),
// BulkWriter (bulks.go, externalids.go), the feed and the outbox
// (feed.go), Store.Update's transaction (update.go), and the checks that
// run transactions at once (concurrency.go). A subtest is named
// role/promise, e.g. CardWriter/SaveStaleOrSkippedVersionIsConflict.
//
// Every card the checks write goes through Save or SaveNew with the
// Change a use case would give, so the outbox holds the event of each
// change: the checks of the outbox and the feed append events of cards they
// do not store, so that no creation event mixes in.
//
// Some checks need two transactions at once. They run them in two
// goroutines, and the transaction that holds a lock waits a bounded time
// (300ms) for the other one before it commits; it never waits without a
// bound, because on a single-writer store (SQLite) the other transaction
// cannot even begin until the first one ends. A correct store passes
// whatever the timing: only a store that lets the second transaction
// through a lock the first one holds fails.
//
// NewCard builds the valid card the checks start from; tests of the use
// cases and of the adapters may use it too.
//
// A store bound to a host's transaction (bunstore's InTx) is not a
// storage.Store of its own here: it is the same store inside another
// transaction, and its adapter tests it.
package storagetest

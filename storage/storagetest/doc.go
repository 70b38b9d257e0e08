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
// names the promise that broke and cannot leak into the next check.
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
package storagetest

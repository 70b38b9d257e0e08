// Package storage defines the ports the use cases need from a store, and
// (in storagetest) the conformance suite every store must pass.
//
// The write port is shaped as a unit of work: Store.Update runs a function
// inside one database transaction, and the function loads cards (locking
// them), decides with the domain rules, saves the new values and appends the
// events that describe the change. Either all of it commits or none of it
// does, so an event is never published for a change that did not commit and
// a change never commits without its events.
//
// The rules every store keeps, whatever the database:
//
//   - Every read of a card is scoped by org: a card of another org is not
//     found. Only the sweep's Due reads across orgs, when its org is "".
//   - A card is saved only over the version it was read at (Version - 1), so
//     a concurrent change is a conflict rather than a lost update.
//   - The function given to Update may run more than once (a store re-runs a
//     transaction the database aborted as a deadlock), so it must have no
//     effect outside the transaction.
//   - Errors wrap the sentinels of package card and never expose a driver's
//     error type; a broken unique rule (a second VIRTUAL alias, a second
//     successor, a second synced card of one key) is a card.ErrConflict.
//   - Idempotency records are claimed and completed inside the transaction
//     of the request they belong to, so a request that fails leaves no
//     record and may be retried with the same key.
//
// Package storagetest checks these promises; adapters/bunstore implements
// them for SQLite and PostgreSQL.
package storage

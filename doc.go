// Package cardcore is a card-issuing core to embed in a Go service: the
// card lifecycle, reissue, noname bulks, card data sync and sandbox-style
// issuance over SQLite or PostgreSQL, with every change's events written to
// a transactional outbox in the same transaction.
//
// The host opens its database with bun and the driver of its choice (see
// package adapters/bunstore) and calls New, which applies the migrations
// and returns the use cases ready to call:
//
//	cc, err := cardcore.New(ctx, db, cardcore.WithPrograms(programs...))
//	defer cc.Close() // before the host closes db
//	c, err := cc.Cards.Create(ctx, lifecycle.CreateRequest{...})
//	c, err = cc.Cards.UpdateStatus(ctx, org, c.ID, card.Blocked)
//
// Core.Store serves the event feed and keeps the subscriptions that
// deliver it: events.NewDeliverer(cc.Store, name, destination, cfg) hands
// the feed, in order and at least once, to a destination such as NATS
// JetStream (adapters/natsjs) or a webhook endpoint (adapters/webhooks).
// The reference HTTP API mounts on a Core in one call, httpapi.New; this package imports no HTTP or JWT code, so a service
// that imports only it and adapters/bunstore compiles neither.
//
// # The host's transaction
//
// A use case commits its change in a transaction of its own. To make a
// change commit with the host's own rows (say, an account and its first
// card), run it through Core.InTx(tx), or Core.RunInTx: the use cases then
// work inside the host's bun.Tx, each in a savepoint, so a refused change
// leaves nothing and the transaction stays usable. The changes and their
// events commit with the host's rows or are rolled back with them; nothing
// is retried, so on PostgreSQL the host retries its whole transaction after
// a serialization failure or a deadlock.
//
// SQLite has one writer. The host's transaction holds the write lock from
// its first write until it ends, or from BEGIN when it is opened IMMEDIATE,
// as bunstore.ModerncDSN's _txlock=immediate does: open it so, since a
// transaction that reads before it writes may fail to take the lock.
// Meanwhile every other writer, cardcore's own use cases included, waits:
// keep such transactions short, with no network call inside.
package cardcore

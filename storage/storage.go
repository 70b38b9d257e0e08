package storage

import (
	"context"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
)

// Store is the port to the cards, the outbox, the subscriptions and the
// idempotency records. Implementations are safe for concurrent use. Errors
// wrap the sentinels of package card (card.ErrNotFound, card.ErrConflict...)
// and never expose driver error types.
type Store interface {
	// Subscriptions are the named cursors on the feed, across orgs, that
	// the deliverers of package events move under a lease.
	events.Subscriptions
	// Endpoints are the webhook endpoints the orgs register.
	Endpoints
	// Card returns card id of org, or an error wrapping card.ErrNotFound.
	Card(ctx context.Context, org string, id int64) (card.Card, error)
	// CardByToken returns the card of org whose Token is token, or an error
	// wrapping card.ErrNotFound.
	CardByToken(ctx context.Context, org, token string) (card.Card, error)
	// CardsByAccount returns the account's cards with id > page.After, by
	// ascending id, at most page.Limit of them.
	CardsByAccount(ctx context.Context, org, account string, page Page) ([]card.Card, error)
	// Update runs fn in one transaction and commits when fn returns nil. When
	// fn returns an error, or the commit fails, nothing fn wrote is kept and
	// the error is returned. fn may be run again when the store detects a
	// serialization failure, so it must not have effects outside tx.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	// Feed returns up to limit committed events of org whose feed position
	// is above after, in feed order, each with Seq set to its position.
	// Positions only rise: an event committed after a reader's last page
	// gets a position above that page's. So a client that asks again with
	// after = the last Seq it got sees every committed event of the org
	// exactly once, and a card's events in version order. An event is in
	// the feed as soon as its transaction has committed.
	Feed(ctx context.Context, org string, after int64, limit int) ([]events.Event, error)
	// CardEvents returns up to limit committed events of card cardID of
	// org whose data version is above afterVersion, in version order, each
	// with Seq set to its feed position as Feed gives it (SPEC 10.5). The
	// history is that of a stored card: an event appended for an id no
	// card of org has is in the feed and in no card's history.
	CardEvents(ctx context.Context, org string, cardID int64, afterVersion int64, limit int) ([]events.Event, error)

	// Reason returns reissue reason id of org, or card.ErrNotFound.
	Reason(ctx context.Context, org string, id int64) (card.Reason, error)
	// Reasons lists org's reasons with id > page.After by ascending id, at
	// most page.Limit; a non-nil enabled keeps only reasons with that flag.
	Reasons(ctx context.Context, org string, enabled *bool, page Page) ([]card.Reason, error)
	// Bulk returns noname bulk id of org, or card.ErrNotFound.
	Bulk(ctx context.Context, org, id string) (card.Bulk, error)
	// BulkView returns noname bulk id of org (card.ErrNotFound when org has
	// none) with the counts of its cards by status, statuses with no card
	// absent, both as of one moment: the cards a transaction commits with
	// the bulk's row (a chunk of a start, with its CardsMade) are counted
	// with that row or not at all, never one without the other.
	BulkView(ctx context.Context, org, id string) (card.Bulk, map[card.Status]int, error)
	// ProcessingBulks returns the bulks of every org in status PROCESSING
	// (started, their cards not all made: being made, or left so by a
	// process that stopped), by id.
	ProcessingBulks(ctx context.Context) ([]card.Bulk, error)

	// Purge applies the retention (SPEC 10.4), committing as it goes in
	// batches of at most limit rows. It deletes the events that occurred
	// before eventsBefore and that every subscription's cursor has passed
	// (at or below the lowest cursor), never the event at the feed's head
	// nor one that follows a younger event in the feed, so the feed only
	// loses a prefix and reads on in order; with no subscription at all
	// the retention alone applies (nothing waits for the events). It
	// deletes the idempotency records created before keysBefore. A zero
	// time deletes nothing of its kind. After an error, what the batches
	// before it deleted stays deleted and is counted in the result.
	Purge(ctx context.Context, eventsBefore, keysBefore time.Time, limit int) (PurgeResult, error)
}

// PurgeResult counts what Store.Purge deleted.
type PurgeResult struct {
	Events int // outbox events
	Keys   int // idempotency records
}

// WebhookEndpoint is a webhook endpoint an org registered (SPEC 10.3), as
// stored. Secret is a credential, the key that signs the deliveries: a
// store keeps it as it is and never logs it; the API returns it once, when
// the endpoint is created.
type WebhookEndpoint struct {
	ID          string
	OrgID       string
	URL         string
	EventTypes  []events.Type // empty means every type
	Description string
	Secret      string
	Enabled     bool
	// FailingSince is when the current run of failed deliveries began;
	// zero while deliveries succeed.
	FailingSince time.Time
	// StartAfter is the feed position of the newest event when the
	// endpoint was registered: it gets the events above it, none before.
	StartAfter int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// EndpointSubscription is the name of the subscription (events.Subscriptions)
// that delivers endpoint id's events.
func EndpointSubscription(id string) string { return "webhook:" + id }

// Endpoints keeps the webhook endpoints of every org. Each call commits at
// once, on the store's own connections. Lookups are scoped by org: an
// endpoint of another org is card.ErrNotFound.
type Endpoints interface {
	// CreateEndpoint stores the new endpoint ep, setting its ID (a UUID)
	// when empty, its CreatedAt and UpdatedAt when zero, and its
	// StartAfter to the feed's head, and creates its
	// subscription, EndpointSubscription(ep.ID), with its cursor at that
	// head, in one transaction: the endpoint gets the events committed
	// after its registration, not the feed's history.
	CreateEndpoint(ctx context.Context, ep *WebhookEndpoint) error
	// Endpoints lists org's endpoints, oldest first.
	Endpoints(ctx context.Context, org string) ([]WebhookEndpoint, error)
	// Endpoint returns endpoint id of org.
	Endpoint(ctx context.Context, org, id string) (WebhookEndpoint, error)
	// DeleteEndpoint deletes endpoint id of org and its subscription, so
	// the subscription holds back no purge. The subscription is deleted
	// even when the endpoint is not found (a relay clears that way one its
	// deliverer re-created after the deletion); the error is then
	// card.ErrNotFound.
	DeleteEndpoint(ctx context.Context, org, id string) error
	// SetEndpointEnabled enables or disables endpoint id of org and
	// returns it. Enabling it clears its FailingSince; its subscription
	// keeps its cursor, so it resumes at the event that failed.
	SetEndpointEnabled(ctx context.Context, org, id string, enabled bool) (WebhookEndpoint, error)
	// SetEndpointFailingSince records when the endpoint's current run of
	// failures began (zero: it succeeds again).
	SetEndpointFailingSince(ctx context.Context, org, id string, since time.Time) error
	// EnabledEndpoints lists the enabled endpoints of every org, oldest
	// first: what a relay delivers to.
	EnabledEndpoints(ctx context.Context) ([]WebhookEndpoint, error)
}

// Page selects a slice of a list ordered by id.
type Page struct {
	After int64 // only ids above this
	Limit int   // at most this many; must be positive
}

// Tx is a transaction opened by Store.Update: every role a use case may
// need inside it. It is not safe for concurrent use and is dead once the
// function given to Update returns.
type Tx interface {
	Cards
	CardWriter
	Sweeps
	Idempotency
	ReasonWriter
	BulkWriter
}

// Cards reads cards inside a transaction. Every card it returns is locked
// until the transaction ends, so no other transaction changes it
// meanwhile; errors wrap card.ErrNotFound when there is no such card.
type Cards interface {
	// Card loads card id of org.
	Card(ctx context.Context, org string, id int64) (card.Card, error)
	// CardByToken loads the card of org whose Token is token.
	CardByToken(ctx context.Context, org, token string) (card.Card, error)
	// CardByLast4 loads the synced card (Card.Synced) of org kept for the
	// account, customer and last four digits. Cards that are not synced
	// are never returned, whatever their last four digits. At most one
	// synced card exists per (org, account, customer, last4): saving a
	// second one is a card.ErrConflict.
	CardByLast4(ctx context.Context, org, account, customer, last4 string) (card.Card, error)
	// Successor loads the card whose ReissuedCardID is id.
	Successor(ctx context.Context, org string, id int64) (card.Card, error)
	// VirtualAliasTaken reports whether the customer already has a VIRTUAL
	// card named name that is not terminated. It locks nothing.
	VirtualAliasTaken(ctx context.Context, org, customer, name string) (bool, error)
}

// CardWriter writes cards, each with the event of its change, and the
// events that describe no one card. A change and its event are one call,
// so no card is written without its event.
type CardWriter interface {
	// Save writes c and appends the event ch describes of it. A card
	// without an ID is inserted: c.Version must be 1, and the store sets
	// its ID (and its Token when empty) before the event is built. A card
	// with an ID is stored over the stored card with the same id and org:
	// c.Version must be exactly one above the stored version, else the
	// error wraps card.ErrConflict (a concurrent update) and nothing is
	// written. A second non-terminated VIRTUAL card with the same alias for
	// the customer is a card.ErrConflict.
	//
	// A store may send the save of a card the transaction read (and so
	// locked) later, with the transaction's next call or its commit
	// (bunstore does on PostgreSQL through pgx, to save a round trip): a
	// failure of that save is then the error of that call, or Update's,
	// and nothing of the transaction is written. Such a save finds no
	// version changed, the card being locked.
	Save(ctx context.Context, c *card.Card, ch events.Change) error
	// SaveNew inserts new cards as Save does, each with the event ch
	// describes of it, in as few statements as the store can, and sets
	// their IDs and Tokens in cs. After an error some cards may have been
	// written: the caller must fail the transaction.
	SaveNew(ctx context.Context, cs []card.Card, ch events.Change) error
	// Append writes events that describe no one card (a noname
	// cancellation) to the outbox, in order.
	Append(ctx context.Context, evs ...events.Event) error
}

// Sweeps finds the cards the sweep must change.
type Sweeps interface {
	// Due returns up to limit cards the sweep must change at now: cards
	// not terminated whose expiration month is over (ExpiresAt <= now),
	// and cards in NORMAL, REISSUED, BLOCKED, PENDING or WARNING whose
	// ValidUntil <= now. org, when not empty, limits them to the cards of
	// that org; "" is every org. The cards are locked; on stores with row
	// locks, cards locked by another transaction are skipped.
	Due(ctx context.Context, org string, now time.Time, limit int) ([]card.Card, error)
}

// Idempotency keeps the keys of replayable requests. Use it through
// Idempotent, the one mechanism of every keyed use case.
type Idempotency interface {
	// Claim records key with fingerprint (a digest of the request) when it
	// is new and returns claimed = true; the caller then stores the result
	// with Complete in the same transaction. When the key exists it returns
	// its record and claimed = false. A concurrent Claim of the same key
	// waits for the first transaction to end.
	Claim(ctx context.Context, key IdempotencyKey, fingerprint string) (rec IdempotencyRecord, claimed bool, err error)
	// Complete stores the result of a claimed key.
	Complete(ctx context.Context, key IdempotencyKey, result []byte) error
}

// ReasonWriter keeps the reissue reasons catalogue inside a transaction.
type ReasonWriter interface {
	// Reason loads reason id of org, locked like a card.
	Reason(ctx context.Context, org string, id int64) (card.Reason, error)
	// SaveReason inserts r when it has no ID (setting it), and otherwise
	// stores it over the stored reason with the same id and org,
	// card.ErrNotFound when there is none.
	SaveReason(ctx context.Context, r *card.Reason) error
}

// BulkWriter keeps noname bulks and their external ids inside a
// transaction.
type BulkWriter interface {
	// Bulk loads noname bulk id of org, locked like a card.
	Bulk(ctx context.Context, org, id string) (card.Bulk, error)
	// SaveBulk inserts b when b.Version is 1 (setting its ID when empty),
	// and otherwise stores it over the stored bulk with the version rule
	// of CardWriter.Save. CardsMade is stored with it: a bulk's cards and
	// the count that says they exist commit together.
	SaveBulk(ctx context.Context, b *card.Bulk) error
	// AddExternalIDs appends external ids to bulk id, after those it holds.
	// An id the bulk already holds is a card.ErrConflict; some ids may
	// then have been added, so the caller must fail the transaction (return
	// the error from the Update function), which undoes them.
	AddExternalIDs(ctx context.Context, bulk string, ids []string) error
	// ExternalIDs returns up to limit of bulk id's external ids in the order
	// they were added, starting after position after (0 for the first);
	// next is the position to pass for the following page. Positions are
	// 1, 2, 3... in that order, so after = k skips exactly the first k ids
	// (a bulk start resumes from its count of cards made).
	ExternalIDs(ctx context.Context, bulk string, after int64, limit int) (ids []string, next int64, err error)
	// UnboundCards returns up to limit UNBOUND cards of the bulk with
	// id > afterID, by ascending id, locked. A non-nil externalIDs keeps only
	// the cards with those external ids.
	UnboundCards(ctx context.Context, org, bulk string, externalIDs []string, afterID int64, limit int) ([]card.Card, error)
}

// ConcurrentWriter is implemented by a store that runs write transactions
// at once, each on a connection of its own, rather than one after the
// other (PostgreSQL does; SQLite has one writer). A noname bulk start runs
// more than one chunk at once only over such a store (noname.WithLanes).
type ConcurrentWriter interface {
	ConcurrentWrites() bool
}

// noWait is the context key of WithNoWait.
type noWait struct{}

// WithNoWait marks ctx so that Tx.Bulk, run with it, does not wait for a
// bulk another transaction holds: it answers a conflict (card.ErrConflict)
// at once, and the transaction is to be rolled back (PostgreSQL's FOR
// UPDATE NOWAIT). A store whose writers never run at once (SQLite) may
// ignore the mark. A noname bulk start's chunks in flight take their
// bulk's lock so (noname.WithLanes): a chunk holding new cards never waits
// for a transaction that may be waiting for those cards, so no two
// starters of one bulk deadlock.
func WithNoWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWait{}, true)
}

// NoWait reports whether ctx carries WithNoWait.
func NoWait(ctx context.Context) bool {
	v, _ := ctx.Value(noWait{}).(bool)
	return v
}

// lazyCommit is the context key of WithLazyCommit.
type lazyCommit struct{}

// WithLazyCommit marks ctx so that the transaction of an Update run with
// it may commit without waiting for its changes to reach the disk: a crash
// of the database may then lose that transaction, whole, together with
// those committed after it, never a part of it and never one that
// committed durably after it (PostgreSQL's synchronous_commit = off).
// A bulk start commits its chunks so, but the last: the last chunk's
// durable commit makes every earlier chunk durable too, and a lost chunk
// is made again by the next start. Nothing durable can depend on a lost
// chunk: whatever reads its rows and writes (a bind of one of its cards,
// PostgreSQL's feed sequencer, which positions its events before any
// reader of the feed or relay sees them) commits durably after it, and
// the log is flushed in order. A store may ignore the mark (the SQLite
// store commits as it is configured).
func WithLazyCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, lazyCommit{}, true)
}

// LazyCommit reports whether ctx carries WithLazyCommit.
func LazyCommit(ctx context.Context) bool {
	v, _ := ctx.Value(lazyCommit{}).(bool)
	return v
}

// IdempotencyKey names a request that may be replayed.
type IdempotencyKey struct {
	OrgID string
	Scope string // the operation and what it is scoped to, e.g. "create_card:account=42"
	Key   string // the caller's key, at most 36 characters in the APIs
}

// IdempotencyRecord is what a store keeps of a key.
type IdempotencyRecord struct {
	Fingerprint string // digest of the first request
	Result      []byte // the first result, nil while the first request is in flight
	CreatedAt   time.Time
}

package events

import (
	"context"
	"errors"
	"time"
)

// Errors of the subscription port.
var (
	// ErrLeaseHeld is returned by Acquire while another holder's lease of
	// the subscription has not expired.
	ErrLeaseHeld = errors.New("events: the subscription's lease is held by another deliverer")
	// ErrLeaseLost is returned by Advance and Renew when the lease was
	// taken over or has expired: the deliverer must stop delivering.
	ErrLeaseLost = errors.New("events: the subscription's lease was lost")
)

// Lease is a deliverer's right to deliver one subscription. Token is the
// fencing token: it rises whenever the lease is taken rather than renewed
// (by another holder, or by the same one after its lease lapsed), and the
// store refuses a move of the cursor made with an older token, so a
// deliverer that lost its lease (paused, partitioned, slow) can move the
// cursor neither back nor forward.
type Lease struct {
	Subscription string
	Holder       string
	Token        int64
	Cursor       int64     // the seq of the last event delivered; 0 for none
	Expires      time.Time // by the store's clock
}

// Subscriptions is the store side of delivery: named cursors on the feed,
// each with a lease so that one deliverer at a time, across every process
// sharing the store, delivers it. Expiries are reckoned by the store's
// clock, so the processes' clocks need not agree.
type Subscriptions interface {
	// Acquire takes the lease of subscription name for holder, for ttl: when
	// the subscription has no live lease (creating the subscription, with
	// its cursor at 0, when it is new), or renewing it, with the same
	// token, when holder has the live lease. A live lease of another holder
	// is ErrLeaseHeld. Of holders that Acquire at once, one gets the lease.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error)
	// Advance moves l's cursor to seq and extends the lease by ttl, if l is
	// still the live lease (same holder and token, not expired); otherwise
	// ErrLeaseLost and nothing changes. seq below the cursor is refused as
	// ErrLeaseLost too: a cursor never moves back.
	Advance(ctx context.Context, l Lease, seq int64, ttl time.Duration) (Lease, error)
	// Release ends l's lease now, keeping the cursor, so another deliverer
	// may take over at once (a drain). A lease already lost is not an error.
	Release(ctx context.Context, l Lease) error
	// Drop deletes subscription name with its cursor, so that retention
	// no longer waits for it: a subscription nobody will run again (a
	// retired consumer, a one-off job). A live lease is ErrLeaseHeld: stop
	// its deliverer first. A subscription the store lacks is an error
	// wrapping card.ErrNotFound. A deliverer that runs name later starts it
	// again from the feed's start.
	Drop(ctx context.Context, name string) error
	// After returns up to limit committed events of every org whose feed
	// position is above after, in feed order, each with Seq set to its
	// position: the feed of SPEC section 5 (storage.Store's Feed) across
	// orgs. A cursor is such a position.
	After(ctx context.Context, after int64, limit int) ([]Event, error)
	// Head returns the feed position of the newest committed event, 0
	// when there is none: a subscription's lag is Head minus its cursor.
	Head(ctx context.Context) (int64, error)
}

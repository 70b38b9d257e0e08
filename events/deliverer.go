package events

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// DelivererConfig configures a Deliverer. Zero values take the defaults
// shown.
type DelivererConfig struct {
	// Holder names this deliverer in the lease; it must differ between the
	// deliverers of one subscription (default: a random id).
	Holder string
	// LeaseTTL is how long a lease lasts unless renewed (default 15s): a
	// dead holder's subscription is taken over within it.
	LeaseTTL time.Duration
	// Batch bounds the events read and handed to the destination at once
	// (default 256).
	Batch int
	// Idle is how long the deliverer waits when it has caught up with the
	// feed, or another holder has the lease (default 500ms).
	Idle time.Duration
	// Select, when set, keeps only the events it returns true for; the
	// cursor still moves past the others.
	Select func(Event) bool
	// OnError is told of every failed step (read, delivery, lease) before
	// the deliverer retries it; it may log. Optional.
	OnError func(error)
	// Drain bounds how long the batch in flight may take to finish once
	// Run's context is done (default 10s).
	Drain time.Duration
}

// Backoff is implemented by a Destination with a retry schedule of its
// own (webhooks): the wait before the attempt-th retry of an event, from 1.
// Other destinations get an exponential back-off from 1s to 5min.
type Backoff interface {
	Backoff(attempt int) time.Duration
}

// Deliverer runs one subscription: while it holds the subscription's
// lease it reads the feed after the cursor, hands the events to the
// destination in seq order, and moves the cursor past what the destination
// acknowledged, and no further. A failed event is retried with back-off;
// nothing after it is delivered first. Several deliverers of one
// subscription, in one process or many, share it through the lease: one
// delivers, the others wait to take over.
type Deliverer struct {
	subs Subscriptions
	name string
	dest Destination
	cfg  DelivererConfig

	cursor    atomic.Int64
	delivered atomic.Int64
}

// NewDeliverer returns the deliverer of subscription name to dest.
func NewDeliverer(subs Subscriptions, name string, dest Destination, cfg DelivererConfig) (*Deliverer, error) {
	if subs == nil || dest == nil || name == "" {
		return nil, errors.New("events: NewDeliverer needs the subscriptions, a name and a destination")
	}
	if cfg.Holder == "" {
		cfg.Holder = uuid.NewString()
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 256
	}
	if cfg.Idle == 0 {
		cfg.Idle = 500 * time.Millisecond
	}
	if cfg.Drain == 0 {
		cfg.Drain = 10 * time.Second
	}
	if cfg.LeaseTTL < 0 || cfg.Batch < 0 || cfg.Idle < 0 || cfg.Drain < 0 {
		return nil, errors.New("events: deliverer durations and batch must be positive")
	}
	return &Deliverer{subs: subs, name: name, dest: dest, cfg: cfg}, nil
}

// Cursor is the seq of the last event this deliverer saw acknowledged.
func (d *Deliverer) Cursor() int64 { return d.cursor.Load() }

// Delivered counts the events this deliverer had acknowledged.
func (d *Deliverer) Delivered() int64 { return d.delivered.Load() }

// Run delivers the subscription until ctx is done, then lets the batch in
// flight finish (within the drain time), releases the lease so another
// deliverer takes over at once, and returns nil.
func (d *Deliverer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		l, err := d.subs.Acquire(ctx, d.name, d.cfg.Holder, d.cfg.LeaseTTL)
		if err != nil {
			if !errors.Is(err, ErrLeaseHeld) {
				d.report(fmt.Errorf("events: subscription %s: take the lease: %w", d.name, err))
			}
			sleep(ctx, d.cfg.Idle)
			continue
		}
		d.cursor.Store(l.Cursor)
		l, err = d.hold(ctx, l)
		if errors.Is(err, ErrLeaseLost) {
			d.report(fmt.Errorf("events: subscription %s: %w", d.name, err))
			continue
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Drain)
		_ = d.subs.Release(rctx, l) // an unreleased lease expires on its own
		cancel()
	}
	return nil
}

// hold delivers under lease l until ctx is done or the lease is lost.
func (d *Deliverer) hold(ctx context.Context, l Lease) (Lease, error) {
	attempt := 0
	for ctx.Err() == nil {
		evs, err := d.subs.After(ctx, l.Cursor, d.cfg.Batch)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d.report(fmt.Errorf("events: subscription %s: read the feed after %d: %w", d.name, l.Cursor, err))
			if l, err = d.wait(ctx, l, d.cfg.Idle); err != nil {
				return l, err
			}
			continue
		}
		if len(evs) == 0 {
			if l, err = d.wait(ctx, l, d.cfg.Idle); err != nil {
				return l, err
			}
			continue
		}
		to, derr := d.deliver(ctx, evs)
		if to > l.Cursor {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Drain)
			next, err := d.subs.Advance(actx, l, to, d.cfg.LeaseTTL)
			cancel()
			if err != nil {
				return l, err
			}
			d.delivered.Add(int64(countThrough(evs, to, d.cfg.Select)))
			l = next
			d.cursor.Store(to)
		}
		if derr == nil {
			attempt = 0
			continue
		}
		attempt++
		d.report(fmt.Errorf("events: subscription %s: attempt %d: %w", d.name, attempt, derr))
		if l, err = d.wait(ctx, l, d.backoff(attempt)); err != nil {
			return l, err
		}
	}
	return l, nil
}

// deliver hands the selected events of evs to the destination and returns
// the seq the cursor may move to: past every event before the first one
// not acknowledged.
func (d *Deliverer) deliver(ctx context.Context, evs []Event) (to int64, err error) {
	sel := evs
	if d.cfg.Select != nil {
		sel = make([]Event, 0, len(evs))
		for _, e := range evs {
			if d.cfg.Select(e) {
				sel = append(sel, e)
			}
		}
	}
	last := evs[len(evs)-1].Seq
	if len(sel) == 0 {
		return last, nil
	}
	// The batch in flight finishes when ctx is done (a drain), bounded.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Drain+d.cfg.LeaseTTL)
	defer cancel()
	acked, err := d.dest.Deliver(dctx, sel)
	if acked < 0 || acked > len(sel) {
		return 0, fmt.Errorf("events: destination acknowledged %d of %d events", acked, len(sel))
	}
	if acked == len(sel) && err == nil {
		return last, nil
	}
	if err == nil {
		err = fmt.Errorf("events: destination acknowledged %d of %d events", acked, len(sel))
	}
	return sel[acked].Seq - 1, err
}

// wait sleeps for dur while renewing the lease, so a long back-off keeps
// the subscription.
func (d *Deliverer) wait(ctx context.Context, l Lease, dur time.Duration) (Lease, error) {
	renew := d.cfg.LeaseTTL / 3
	for dur > 0 && ctx.Err() == nil {
		step := min(dur, renew)
		sleep(ctx, step)
		dur -= step
		if ctx.Err() != nil {
			break
		}
		next, err := d.subs.Acquire(ctx, d.name, d.cfg.Holder, d.cfg.LeaseTTL)
		if err != nil {
			if errors.Is(err, ErrLeaseHeld) {
				return l, ErrLeaseLost
			}
			if ctx.Err() == nil {
				d.report(fmt.Errorf("events: subscription %s: renew the lease: %w", d.name, err))
			}
			continue
		}
		if next.Token != l.Token {
			// The lease lapsed and was taken again: another deliverer may
			// have moved the cursor meanwhile, so go on from the store's.
			d.cursor.Store(next.Cursor)
		}
		l = next
	}
	return l, nil
}

func (d *Deliverer) backoff(attempt int) time.Duration {
	if b, ok := d.dest.(Backoff); ok {
		return b.Backoff(attempt)
	}
	wait := time.Second << min(attempt-1, 9)
	return min(wait, 5*time.Minute)
}

func (d *Deliverer) report(err error) {
	if d.cfg.OnError != nil {
		d.cfg.OnError(err)
	}
}

// countThrough counts the selected events of evs with seq <= to.
func countThrough(evs []Event, to int64, sel func(Event) bool) int {
	n := 0
	for _, e := range evs {
		if e.Seq <= to && (sel == nil || sel(e)) {
			n++
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

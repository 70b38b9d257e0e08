package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// LeaseTTL is how long a lease lasts unless renewed (default 15s, at
	// least 1ms): a dead holder's subscription is taken over within it. The
	// holder renews it every third of it, also while the destination works
	// on a batch.
	LeaseTTL time.Duration
	// Batch bounds the events read and handed to the destination at once
	// (default 256).
	Batch int
	// Idle is how long the deliverer waits when another holder has the
	// lease, and the longest it waits when it has caught up with the feed
	// (default 500ms). Caught up right after a batch, it reads the feed
	// again after Idle/32, then after twice as long while it finds
	// nothing, up to Idle: under a steady load an event waits a few
	// milliseconds to be read, and a quiet feed is read twice a second.
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
//
// A deliverer that could not renew its lease within the lease time stops
// the batch in flight (it cancels the destination's context) rather than
// go on beside a deliverer that may have taken over; the store refuses
// its moves of the cursor anyway. Either way it reports ErrLeaseLost to
// OnError and waits for the lease again. The events of the batch in
// flight may then be delivered twice, and no others.
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
	if cfg.LeaseTTL < time.Millisecond || cfg.Batch < 0 || cfg.Idle < 0 || cfg.Drain < 0 {
		return nil, errors.New("events: deliverer durations and batch must be positive, and the lease time at least 1ms")
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
		start := time.Now()
		l, err := d.subs.Acquire(ctx, d.name, d.cfg.Holder, d.cfg.LeaseTTL)
		if err != nil {
			if !errors.Is(err, ErrLeaseHeld) && ctx.Err() == nil {
				d.report(fmt.Errorf("events: subscription %s: take the lease: %w", d.name, err))
			}
			sleep(ctx, d.cfg.Idle)
			continue
		}
		t := &tenure{}
		d.renewed(t, l, start)
		if err := d.hold(ctx, t); err != nil {
			// Lost: another deliverer has the subscription, or may have.
			d.report(fmt.Errorf("events: subscription %s: %w", d.name, err))
			continue
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Drain)
		_ = d.subs.Release(rctx, t.l) // an unreleased lease expires on its own
		cancel()
	}
	return nil
}

// Flush delivers the subscription once, up to the feed's head as it
// stands when each batch is read: it takes the lease (ErrLeaseHeld when
// another deliverer holds it), hands the destination every event after
// the cursor, moves the cursor past what it acknowledged, and releases the
// lease. It returns how many events were acknowledged, and the first
// failure: a refused event stops the flush there, with the cursor before
// it, and the next Flush or Run starts from it. It suits a command, a test
// or a job that delivers a backlog and stops; a service runs Run.
func (d *Deliverer) Flush(ctx context.Context) (int, error) {
	start := time.Now()
	l, err := d.subs.Acquire(ctx, d.name, d.cfg.Holder, d.cfg.LeaseTTL)
	if err != nil {
		return 0, fmt.Errorf("events: subscription %s: take the lease: %w", d.name, err)
	}
	t := &tenure{}
	d.renewed(t, l, start)
	before := d.delivered.Load()
	err = d.flush(ctx, t)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Drain)
	defer cancel()
	if rerr := d.subs.Release(rctx, t.l); err == nil && rerr != nil {
		err = fmt.Errorf("events: subscription %s: release the lease: %w", d.name, rerr)
	}
	return int(d.delivered.Load() - before), err
}

// flush delivers under t's lease until the feed is exhausted or a step
// fails.
func (d *Deliverer) flush(ctx context.Context, t *tenure) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		evs, err := d.subs.After(ctx, t.l.Cursor, d.cfg.Batch)
		if err != nil {
			return fmt.Errorf("events: subscription %s: read the feed after %d: %w", d.name, t.l.Cursor, err)
		}
		if len(evs) == 0 {
			return nil
		}
		to, derr := d.deliver(ctx, t, evs)
		if to > t.l.Cursor {
			start := time.Now()
			next, err := d.subs.Advance(ctx, t.l, to, d.cfg.LeaseTTL)
			if err != nil {
				return fmt.Errorf("events: subscription %s: move the cursor to %d: %w", d.name, to, err)
			}
			d.delivered.Add(int64(countThrough(evs, to, d.cfg.Select)))
			d.renewed(t, next, start)
		}
		if derr != nil {
			return fmt.Errorf("events: subscription %s: %w", d.name, derr)
		}
	}
}

// tenure is the lease a deliverer holds, and what it knows of it by its
// own clock.
type tenure struct {
	l Lease
	// until is when the lease may have expired: the start of the call that
	// last renewed it, plus the TTL. The store set the expiry later than
	// that start, by its own clock, so until is never after it (clock
	// drift over one TTL aside), whatever the two clocks read.
	until time.Time
	// renewAt is when the lease is next renewed.
	renewAt time.Time
}

// renewed records l, obtained by a call started at start.
func (d *Deliverer) renewed(t *tenure, l Lease, start time.Time) {
	t.l = l
	t.until = start.Add(d.cfg.LeaseTTL)
	t.renewAt = start.Add(d.renewEvery())
	d.cursor.Store(l.Cursor)
}

// renewEvery is how often a held lease is renewed: three times a TTL, so
// one or two failed renewals do not lose it.
func (d *Deliverer) renewEvery() time.Duration {
	return max(d.cfg.LeaseTTL/3, time.Millisecond)
}

// renew renews t's lease. A lease another holder has is ErrLeaseLost, and
// so is, when sameToken, a lease that lapsed and was taken again with a
// new token (another deliverer may have delivered meanwhile). Any other
// failure is reported, and the renewal retried soon.
func (d *Deliverer) renew(ctx context.Context, t *tenure, sameToken bool) error {
	start := time.Now()
	l, err := d.subs.Acquire(ctx, d.name, d.cfg.Holder, d.cfg.LeaseTTL)
	switch {
	case errors.Is(err, ErrLeaseHeld):
		return ErrLeaseLost
	case err != nil:
		if ctx.Err() == nil {
			d.report(fmt.Errorf("events: subscription %s: renew the lease: %w", d.name, err))
		}
		t.renewAt = time.Now().Add(max(d.cfg.LeaseTTL/10, time.Millisecond))
		return nil
	case l.Token != t.l.Token && sameToken:
		return ErrLeaseLost
	}
	// A new token means the lease lapsed and was taken again: another
	// deliverer may have moved the cursor meanwhile, so go on from the
	// store's.
	d.renewed(t, l, start)
	return nil
}

// hold delivers under the lease of t until ctx is done (nil) or the lease
// is lost (ErrLeaseLost).
func (d *Deliverer) hold(ctx context.Context, t *tenure) error {
	attempt := 0
	var idle time.Duration // the wait after the next read that finds nothing
	for ctx.Err() == nil {
		evs, err := d.subs.After(ctx, t.l.Cursor, d.cfg.Batch)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			d.report(fmt.Errorf("events: subscription %s: read the feed after %d: %w", d.name, t.l.Cursor, err))
			if err := d.wait(ctx, t, d.cfg.Idle); err != nil {
				return err
			}
			continue
		}
		if len(evs) == 0 {
			idle = min(max(2*idle, d.cfg.Idle/32), d.cfg.Idle)
			if err := d.wait(ctx, t, idle); err != nil {
				return err
			}
			continue
		}
		idle = 0
		to, derr := d.deliver(ctx, t, evs)
		if errors.Is(derr, ErrLeaseLost) {
			return derr
		}
		if to > t.l.Cursor {
			start := time.Now()
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Drain)
			next, err := d.subs.Advance(actx, t.l, to, d.cfg.LeaseTTL)
			cancel()
			if errors.Is(err, ErrLeaseLost) {
				return err
			}
			if err != nil {
				// The batch is delivered again: at least once.
				d.report(fmt.Errorf("events: subscription %s: move the cursor to %d: %w", d.name, to, err))
				if err := d.wait(ctx, t, d.cfg.Idle); err != nil {
					return err
				}
				continue
			}
			d.delivered.Add(int64(countThrough(evs, to, d.cfg.Select)))
			d.renewed(t, next, start)
		}
		if derr == nil {
			attempt = 0
			continue
		}
		attempt++
		d.report(fmt.Errorf("events: subscription %s: attempt %d: %w", d.name, attempt, derr))
		if err := d.wait(ctx, t, d.backoff(attempt)); err != nil {
			return err
		}
	}
	return nil
}

// deliver hands the selected events of evs to the destination and returns
// the seq the cursor may move to: past every event before the first one
// not acknowledged. The lease is renewed meanwhile; when it is lost, or may
// have expired, the delivery's context is cancelled and deliver returns
// ErrLeaseLost.
func (d *Deliverer) deliver(ctx context.Context, t *tenure, evs []Event) (to int64, err error) {
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
	dctx, stop := d.keep(ctx, t)
	acked, err := d.dest.Deliver(dctx, sel)
	if lost := stop(); lost != nil {
		return 0, lost
	}
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

// keep renews t's lease while the destination delivers, and returns the
// delivery's context and the function that stops the renewals once the
// destination returned, reporting ErrLeaseLost when the lease was lost or
// may have expired meanwhile. The delivery's context is cancelled then, or
// the drain time after ctx is done: the batch in flight may finish, within
// that bound.
func (d *Deliverer) keep(ctx context.Context, t *tenure) (context.Context, func() error) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	var lost error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stopping, drained := ctx.Done(), (<-chan time.Time)(nil)
		for {
			next := time.NewTimer(time.Until(earlier(t.renewAt, t.until)))
			select {
			case <-done:
				next.Stop()
				return
			case <-stopping:
				stopping, drained = nil, time.After(d.cfg.Drain)
			case <-drained:
				cancel()
			case <-next.C:
				if !time.Now().Before(t.until) {
					lost = ErrLeaseLost
				} else {
					rctx, rcancel := context.WithDeadline(dctx, t.until)
					lost = d.renew(rctx, t, true)
					rcancel()
				}
				if lost != nil {
					cancel()
					return
				}
			}
			next.Stop()
		}
	}()
	return dctx, func() error {
		close(done)
		wg.Wait()
		cancel()
		return lost
	}
}

// wait sleeps for dur while renewing the lease, so a long back-off keeps
// the subscription. It returns ErrLeaseLost when another holder took the
// lease.
func (d *Deliverer) wait(ctx context.Context, t *tenure, dur time.Duration) error {
	end := time.Now().Add(dur)
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			return nil
		}
		sleep(ctx, earlier(end, t.renewAt).Sub(now))
		if ctx.Err() != nil || time.Now().Before(t.renewAt) {
			continue
		}
		if err := d.renew(ctx, t, false); err != nil {
			return err
		}
	}
	return nil
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

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

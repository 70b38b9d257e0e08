package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/uptrace/bun"
)

var _ events.Subscriptions = (*Store)(nil)

// Subscriptions live in cardcore_subscriptions, one row per name: the
// cursor (the feed position of the last event delivered), the holder of the
// lease, its fencing token and its expiry. Each call is one statement on
// the store's own connections, committed at once, also on a store bound to
// a host's transaction by InTx: a lease must not wait for, or roll back
// with, the host's work.
//
// Expiries are reckoned by the database's clock, so the processes sharing
// a store need not agree on the time: clock_timestamp() on PostgreSQL (the
// time when the row is examined, also after waiting for another writer's
// row lock), and SQLite's 'now', to the millisecond, stored as text
// 'YYYY-MM-DD HH:MM:SS.SSS' in UTC, which compares as it sorts.
//
// The token rises whenever the lease is taken rather than renewed: by
// another holder after the lease expired or was released, and by the same
// holder when its own lease had lapsed. A renewal (the same holder, still
// live) keeps it. Advance and Release name the holder and token they hold,
// so a deliverer that lost its lease, even one that took it back since,
// changes nothing with the old lease.

// Acquire implements events.Subscriptions: a renewal, or a takeover of a
// free or expired lease, in one conditional UPDATE; a subscription the
// store lacks is created with its cursor at 0 and the lease taken in the
// same INSERT. A live lease of another holder is events.ErrLeaseHeld.
func (s *Store) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (events.Lease, error) {
	if err := leaseArgs(name, holder, ttl); err != nil {
		return events.Lease{}, err
	}
	now, until := s.clock(), s.expiry(ttl)
	l := events.Lease{Subscription: name, Holder: holder}
	found, err := s.scanLease(ctx, "take lease", &l, `
UPDATE cardcore_subscriptions SET
  token = CASE WHEN holder = ? AND expires_at > `+now+` THEN token ELSE token + 1 END,
  holder = ?, expires_at = `+until+`, updated_at = `+now+`
WHERE name = ? AND (holder = ? OR holder IS NULL OR expires_at IS NULL OR expires_at <= `+now+`)
RETURNING `+leaseColumns, holder, holder, name, holder)
	if err != nil || found {
		return l, err
	}
	// Either the subscription is new, or another holder's lease is live.
	// Of several deliverers creating one subscription at once, the first
	// INSERT takes the lease and the others find it held.
	found, err = s.scanLease(ctx, "create subscription", &l, `
INSERT INTO cardcore_subscriptions (name, cursor, holder, token, expires_at, created_at, updated_at)
VALUES (?, 0, ?, 1, `+until+`, `+now+`, `+now+`)
ON CONFLICT (name) DO NOTHING
RETURNING `+leaseColumns, name, holder)
	if err != nil {
		return events.Lease{}, err
	}
	if !found {
		return events.Lease{}, fmt.Errorf("bunstore: subscription %s: %w", name, events.ErrLeaseHeld)
	}
	return l, nil
}

// Advance implements events.Subscriptions: one UPDATE that moves the
// cursor and extends the lease only while l is the live lease and seq is
// not below the cursor; otherwise events.ErrLeaseLost, and nothing
// changes.
func (s *Store) Advance(ctx context.Context, l events.Lease, seq int64, ttl time.Duration) (events.Lease, error) {
	if err := leaseArgs(l.Subscription, l.Holder, ttl); err != nil {
		return events.Lease{}, err
	}
	now := s.clock()
	next := l
	found, err := s.scanLease(ctx, "advance cursor", &next, `
UPDATE cardcore_subscriptions SET cursor = ?, expires_at = `+s.expiry(ttl)+`, updated_at = `+now+`
WHERE name = ? AND holder = ? AND token = ? AND expires_at > `+now+` AND cursor <= ?
RETURNING `+leaseColumns, seq, l.Subscription, l.Holder, l.Token, seq)
	if err != nil {
		return events.Lease{}, err
	}
	if !found {
		return events.Lease{}, fmt.Errorf("bunstore: subscription %s: advance to %d with token %d: %w", l.Subscription, seq, l.Token, events.ErrLeaseLost)
	}
	return next, nil
}

// Release implements events.Subscriptions: it sets the lease's expiry to
// now while l is still the live lease, keeping the cursor and the holder's
// name (the last holder, for whoever reads the table).
func (s *Store) Release(ctx context.Context, l events.Lease) error {
	done, err := s.write(ctx, "release lease")
	if err != nil {
		return err
	}
	defer done()
	now := s.clock()
	_, err = s.db.ExecContext(ctx, `
UPDATE cardcore_subscriptions SET expires_at = `+now+`, updated_at = `+now+`
WHERE name = ? AND holder = ? AND token = ? AND expires_at > `+now,
		l.Subscription, l.Holder, l.Token)
	return translate(ctx, "release lease", err)
}

// Drop implements events.Subscriptions: one DELETE, of a subscription
// whose lease is not live.
func (s *Store) Drop(ctx context.Context, name string) error {
	if name == "" {
		return card.Invalid("subscription", "must not be empty")
	}
	done, err := s.write(ctx, "drop subscription")
	if err != nil {
		return err
	}
	defer done()
	now := s.clock()
	res, err := s.db.ExecContext(ctx, `
DELETE FROM cardcore_subscriptions
WHERE name = ? AND (holder IS NULL OR expires_at IS NULL OR expires_at <= `+now+`)`, name)
	if err != nil {
		return translate(ctx, "drop subscription", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return translate(ctx, "drop subscription", err)
	}
	exists, err := s.db.NewSelect().TableExpr("cardcore_subscriptions").Where("name = ?", name).Exists(ctx)
	switch {
	case err != nil:
		return translate(ctx, "drop subscription", err)
	case exists:
		return fmt.Errorf("bunstore: subscription %s: %w", name, events.ErrLeaseHeld)
	}
	return fmt.Errorf("bunstore: subscription %s: %w", name, card.ErrNotFound)
}

// After implements events.Subscriptions: the feed of Feed, across orgs.
func (s *Store) After(ctx context.Context, after int64, limit int) ([]events.Event, error) {
	return s.feed(ctx, nil, after, limit)
}

// Head implements events.Subscriptions.
func (s *Store) Head(ctx context.Context) (int64, error) {
	pos := "seq"
	if !s.sqlite {
		if err := s.sequence(ctx); err != nil {
			return 0, err
		}
		pos = "feed_pos"
	}
	var head int64
	err := s.db.NewSelect().TableExpr("cardcore_outbox").ColumnExpr("COALESCE(MAX(?), 0)", bun.Ident(pos)).Scan(ctx, &head)
	return head, translate(ctx, "read the feed's head", err)
}

// leaseArgs checks the arguments that name a lease.
func leaseArgs(name, holder string, ttl time.Duration) error {
	switch {
	case name == "":
		return card.Invalid("subscription", "must not be empty")
	case holder == "":
		return card.Invalid("holder", "must not be empty")
	case ttl < time.Millisecond:
		return card.Invalid("ttl", "must be at least 1ms")
	}
	return nil
}

// clock is the SQL of the database's current time, in the form expires_at
// is stored.
func (s *Store) clock() string {
	if s.sqlite {
		return "strftime('%Y-%m-%d %H:%M:%f', 'now')"
	}
	return "clock_timestamp()"
}

// expiry is the SQL of the database's current time plus ttl, to the
// millisecond on SQLite and the microsecond on PostgreSQL.
func (s *Store) expiry(ttl time.Duration) string {
	if s.sqlite {
		secs := strconv.FormatFloat(ttl.Seconds(), 'f', 3, 64)
		return "strftime('%Y-%m-%d %H:%M:%f', 'now', '+" + secs + " seconds')"
	}
	return "(clock_timestamp() + interval '" + strconv.FormatInt(ttl.Microseconds(), 10) + " microseconds')"
}

// leaseColumns are what a lease statement returns, for scanLease.
const leaseColumns = "token, cursor, expires_at"

// scanLease runs query and scans the row it returns into l: found is false
// when it returned none.
func (s *Store) scanLease(ctx context.Context, op string, l *events.Lease, query string, args ...any) (found bool, err error) {
	done, err := s.write(ctx, op)
	if err != nil {
		return false, err
	}
	defer done()
	var expires dbTime
	err = s.db.QueryRowContext(ctx, query, args...).Scan(&l.Token, &l.Cursor, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, translate(ctx, op, err)
	}
	l.Expires = expires.Time
	return true, nil
}

// dbTime scans a time the database computed: a time from PostgreSQL, or
// SQLite's text, which the driver may hand over as text or parsed.
type dbTime struct{ time.Time }

// strftimeLayout is the layout of the times SQLite's strftime writes.
const strftimeLayout = "2006-01-02 15:04:05.999999999"

func (t *dbTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		t.Time = time.Time{}
		return nil
	case time.Time:
		t.Time = v.UTC()
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	}
	return fmt.Errorf("bunstore: a time of type %T", v)
}

func (t *dbTime) parse(s string) error {
	v, err := time.ParseInLocation(strftimeLayout, s, time.UTC)
	t.Time = v
	return err
}

// Subscription is a subscription as the store holds it, for an operator:
// its cursor, its lag behind the feed's head, and its lease.
type Subscription struct {
	Name    string
	Cursor  int64
	Lag     int64     // the feed's head minus the cursor
	Holder  string    // the last holder of the lease; empty when never taken
	Expires time.Time // when the lease ends, by the database's clock; zero when never taken
	Live    bool      // whether the lease is live now
	Updated time.Time
}

// ListSubscriptions returns every subscription, by name, with its lag
// behind the feed's head as it stands now.
func (s *Store) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `
SELECT name, cursor, COALESCE(holder, ''), expires_at, CASE WHEN expires_at > `+s.clock()+` THEN 1 ELSE 0 END, updated_at
FROM cardcore_subscriptions ORDER BY name`)
	if err != nil {
		return nil, translate(ctx, "list subscriptions", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		var (
			sub     Subscription
			expires dbTime
			updated dbTime
			live    int
		)
		if err := rows.Scan(&sub.Name, &sub.Cursor, &sub.Holder, &expires, &live, &updated); err != nil {
			return nil, translate(ctx, "list subscriptions", err)
		}
		sub.Expires, sub.Updated, sub.Live = expires.Time, updated.Time, live == 1
		sub.Lag = max(head-sub.Cursor, 0)
		out = append(out, sub)
	}
	return out, translate(ctx, "list subscriptions", rows.Err())
}

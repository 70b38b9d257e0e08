package bunstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// A save is read by the rest of its transaction, and each save commits
// with its event, in the order of the saves.
func TestSaveIsReadInItsTransaction(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s := newStore(t, db)
		c := insert(t, s, virtualCard("alias", card.Normal))
		err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			got, err := tx.Card(ctx, c.OrgID, c.ID)
			if err != nil {
				return err
			}
			got.Status, got.PreviousStatus, got.Version = card.Blocked, card.Normal, got.Version+1
			if err := tx.Save(ctx, &got, updated); err != nil {
				return err
			}
			again, err := tx.Card(ctx, c.OrgID, c.ID)
			if err != nil {
				return err
			}
			if again.Status != card.Blocked || again.Version != 2 {
				t.Errorf("read after save: %s version %d, want BLOCKED version 2", again.Status, again.Version)
			}
			again.Status, again.PreviousStatus, again.Version = card.Normal, card.Blocked, 3
			return tx.Save(ctx, &again, updated)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Card(ctx, c.OrgID, c.ID)
		if err != nil || got.Status != card.Normal || got.Version != 3 {
			t.Fatalf("after commit: %s version %d (%v), want NORMAL version 3", got.Status, got.Version, err)
		}
		evs := feed(t, s)
		want := []struct {
			typ     events.Type
			status  string
			version int64
		}{{events.CardCreated, "NORMAL", 1}, {events.CardUpdated, "BLOCKED", 2}, {events.CardUpdated, "NORMAL", 3}}
		if len(evs) != len(want) {
			t.Fatalf("feed: %d events, want the %d of card %d", len(evs), len(want), c.ID)
		}
		for i, w := range want {
			var d events.CardData
			if err := json.Unmarshal(evs[i].Data, &d); err != nil {
				t.Fatal(err)
			}
			if evs[i].CardID != c.ID || evs[i].Type != w.typ || d.CardStatus != w.status || d.Version != w.version {
				t.Errorf("event %d: %s of card %d, %s version %d; want %s of card %d, %s version %d",
					i, evs[i].Type, evs[i].CardID, d.CardStatus, d.Version, w.typ, c.ID, w.status, w.version)
			}
		}
		// The card's history is its events, the two saves of one
		// transaction included.
		hist, err := s.CardEvents(ctx, c.OrgID, c.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := eventIDs(hist), eventIDs(evs); !slices.Equal(got, want) {
			t.Errorf("CardEvents = %v, want the feed's %v", got, want)
		}
	})
}

func eventIDs(evs []events.Event) []string {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	return ids
}

// A save that breaks a unique rule fails, and the transaction that returns
// its error leaves nothing behind, no event either, whether the card was
// read in the transaction (the save writes the columns that changed) or
// not (it writes them all).
func TestSaveBreakingAUniqueRuleFailsTheTransaction(t *testing.T) {
	for _, read := range []bool{true, false} {
		t.Run(map[bool]string{true: "read", false: "unread"}[read], func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *bun.DB) {
				ctx := t.Context()
				s := newStore(t, db)
				insert(t, s, virtualCard("alias", card.Normal))
				old := insert(t, s, virtualCard("alias", card.Canceled)) // terminated: the alias is free
				before := feed(t, s)
				err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
					c := old
					if read {
						var err error
						if c, err = tx.Card(ctx, old.OrgID, old.ID); err != nil {
							return err
						}
					}
					c.Status, c.Version = card.Normal, c.Version+1 // not a lifecycle change: the store's rule alone
					return tx.Save(ctx, &c, updated)
				})
				if !errors.Is(err, card.ErrConflict) {
					t.Fatalf("read %v: Update = %v, want a conflict", read, err)
				}
				got, err := s.Card(ctx, old.OrgID, old.ID)
				if err != nil || got.Status != card.Canceled || got.Version != 1 {
					t.Errorf("card after the failed save: %s version %d (%v)", got.Status, got.Version, err)
				}
				if evs := feed(t, s); len(evs) != len(before) {
					t.Errorf("feed after the failed save: %d events, want the %d before it", len(evs), len(before))
				}
			})
		})
	}
}

// On PostgreSQL a save of a stored card and its event are one statement,
// so a change costs one round trip: a trigger on each table sees both rows
// written at the same statement_timestamp(), the time PostgreSQL received
// the statement, whether the transaction read the card or not. Two events
// appended one by one are two statements, at two times, which shows that
// the check tells them apart.
func TestSaveAndItsEventAreOneStatementOnPostgreSQL(t *testing.T) {
	db := testdb.Open(t, "postgres")
	ctx := t.Context()
	for _, q := range []string{
		"CREATE TABLE stmt_log (what text, at timestamptz)",
		`CREATE FUNCTION log_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO stmt_log VALUES (TG_ARGV[0], statement_timestamp()); RETURN NULL; END $$`,
		"CREATE TRIGGER log_save AFTER UPDATE ON cardcore_cards FOR EACH ROW EXECUTE FUNCTION log_stmt('save')",
		"CREATE TRIGGER log_event AFTER INSERT ON cardcore_outbox FOR EACH ROW EXECUTE FUNCTION log_stmt('event')",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	logged := func(fn func(ctx context.Context, tx storage.Tx) error) map[string][]time.Time {
		t.Helper()
		if _, err := db.ExecContext(ctx, "DELETE FROM stmt_log"); err != nil {
			t.Fatal(err)
		}
		if err := newStore(t, db).Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			What string    `bun:"what"`
			At   time.Time `bun:"at"`
		}
		if err := db.NewSelect().Table("stmt_log").Column("what", "at").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		at := map[string][]time.Time{}
		for _, r := range rows {
			at[r.What] = append(at[r.What], r.At)
		}
		return at
	}
	c := insert(t, newStore(t, db), validCard(testNow()))
	for _, read := range []bool{true, false} {
		at := logged(func(ctx context.Context, tx storage.Tx) error {
			next := c
			if read {
				var err error
				if next, err = tx.Card(ctx, c.OrgID, c.ID); err != nil {
					return err
				}
			}
			next.PreviousStatus, next.Status, next.Version = next.Status, card.Blocked, next.Version+1
			if next.PreviousStatus == card.Blocked {
				next.Status = card.Normal
			}
			if err := tx.Save(ctx, &next, updated); err != nil {
				return err
			}
			c = next
			return nil
		})
		if len(at["save"]) != 1 || len(at["event"]) != 1 || !at["save"][0].Equal(at["event"][0]) {
			t.Errorf("read %v: the save and its event were written at %v and %v, want one statement", read, at["save"], at["event"])
		}
	}
	at := logged(func(ctx context.Context, tx storage.Tx) error {
		return tx.Append(ctx, newEvent(), newEvent())
	})
	if len(at["event"]) != 2 || at["event"][0].Equal(at["event"][1]) {
		t.Errorf("two appended events were written at %v, want two statements at two times", at["event"])
	}
}

// newEvent returns an event of org "org" about no card.
func newEvent() events.Event {
	e, err := events.New(context.Background(), events.NonameCancellation, "org", events.CancellationData{BulkID: "b"}, testNow())
	if err != nil {
		panic(err)
	}
	return e
}

package cardcore_test

import (
	"context"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/faultdb"
	"github.com/cardcore/cardcore/noname"
)

// On PostgreSQL through pgx, a change of a card is two round trips: BEGIN
// with the card's read, then its save with the COMMIT (bunstore's
// pgxtx.go). Counted on the wire (faultdb's "pgx" database), after a
// first call has prepared the statements on the connection.
func TestPgxChangeIsTwoRoundTrips(t *testing.T) {
	e := newFaultEnv(t, "pgx")
	ctx := t.Context()
	const org = "rt"
	e.at(0)
	c := faultCreate(t, e, faultVirtual(org, "a", 0, ""))
	b := faultBulk(t, e, org, true, "e1", "e2")
	bind := func(ext string) func(ctx context.Context) error {
		id := faultBulkCard(t, e, org, b.ID, ext)
		return func(ctx context.Context) error {
			_, err := e.core.Noname.Bind(ctx, noname.BindRequest{OrgID: org, CardID: id, AccountID: faultAccount,
				CustomerID: faultCustomer, PrintedName: "JANE DOE"})
			return err
		}
	}
	for _, tc := range []struct {
		name       string
		warm, call func(ctx context.Context) error
	}{
		{"status update", func(ctx context.Context) error {
			_, err := e.core.Cards.UpdateStatus(ctx, org, c.ID, card.Blocked)
			return err
		}, func(ctx context.Context) error {
			_, err := e.core.Cards.UpdateStatus(ctx, org, c.ID, card.Normal)
			return err
		}},
		{"bind", bind("e1"), bind("e2")},
	} {
		if err := tc.warm(ctx); err != nil {
			t.Fatalf("%s, first call: %v", tc.name, err)
		}
		e.db.Plan.Start(nil)
		err := tc.call(ctx)
		run := e.db.Plan.Stop()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := run.Counts[faultdb.RoundTrip]; n != 2 {
			t.Errorf("%s: %d round trips, want 2:\n%s", tc.name, n, traceText(run.Trace))
		}
	}
}

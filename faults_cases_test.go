package cardcore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
)

// The account, customer and keys of the use cases under faults. Keys are
// scoped to the org, so every org uses the same ones.
const (
	faultAccount   = "acct-1"
	faultCustomer  = "cust-1"
	sandboxAccount = "3f2c9a7e-5b1d-4e8f-9a6c-2d7b0e1f4a53"
	sandboxKey     = "8b0f3d2a-6c4e-4f1a-9d7b-5e2c1a0b9f86"
)

// faultUseCases are the use cases run under faults, each with its fixture.
func faultUseCases() []faultUseCase {
	return []faultUseCase{
		{name: "create", second: "ok", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			e.at(0)
			return func(ctx context.Context) error {
				_, err := e.core.Cards.Create(ctx, faultVirtual(org, "travel", 0, "create-1"))
				return err
			}
		}},
		{name: "update status", second: "ok", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			e.at(0)
			c := faultCreate(t, e, faultVirtual(org, "travel", 0, ""))
			return func(ctx context.Context) error {
				_, err := e.core.Cards.UpdateStatus(ctx, org, c.ID, card.Blocked)
				return err
			}
		}},
		{name: "activate", second: "conflict", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// The new card of a reissue: activating it cancels the
			// predecessor in the same transaction.
			e.at(0)
			old := faultActivePlastic(t, e, org)
			res, err := e.core.Reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: old.ID, ReasonID: faultReason(t, e, org).ID})
			if err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) error {
				_, err := e.core.Cards.Activate(ctx, org, res.New.ID)
				return err
			}
		}},
		{name: "renew validity", second: "repeats", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// Renewing a card that is not INOPERATIVE restarts its period,
			// a change of its own: renew takes no idempotency key.
			e.at(0)
			c := faultCreate(t, e, faultVirtual(org, "travel", 1, ""))
			e.at(2 * time.Hour)
			if _, err := e.core.Cards.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got, err := e.core.Cards.Get(t.Context(), org, c.ID); err != nil || got.Status != card.Inoperative {
				t.Fatalf("fixture: card is %v (%v), want INOPERATIVE", got.Status, err)
			}
			return func(ctx context.Context) error {
				_, err := e.core.Cards.RenewValidity(ctx, org, c.ID)
				return err
			}
		}},
		{name: "sweep", second: "ok", multiTx: true, setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// Three due cards, in sweep batches of 2: two transactions. The
			// sweep covers every org; those of earlier runs have nothing due.
			e.at(0)
			faultCreate(t, e, faultVirtual(org, "a", 1, ""))
			faultCreate(t, e, faultVirtual(org, "b", 1, ""))
			expiring := faultVirtual(org, "c", 0, "")
			expiring.ExpirationDate = cardtest.T0.Format("0601") // yymm: the month of T0
			faultCreate(t, e, expiring)
			e.at(30 * 24 * time.Hour)
			return func(ctx context.Context) error {
				res, err := e.core.Cards.Sweep(ctx)
				if err == nil && (res.Expired > 1 || res.Inoperative > 2) {
					return fmt.Errorf("the sweep reports %+v of 1 card to expire and 2 to make INOPERATIVE", res)
				}
				return err
			}
		}},
		{name: "reissue", second: "ok", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			e.at(0)
			old := faultActivePlastic(t, e, org)
			req := reissue.Request{OrgID: org, CardID: old.ID, ReasonID: faultReason(t, e, org).ID, IdempotencyKey: "reissue-1"}
			return func(ctx context.Context) error {
				_, err := e.core.Reissue.Reissue(ctx, req)
				return err
			}
		}},
		{name: "bulk create", second: "repeats", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// A bulk create takes no idempotency key: a second call makes a
			// second bulk.
			e.at(0)
			return func(ctx context.Context) error {
				_, err := e.core.Noname.Create(ctx, noname.CreateRequest{OrgID: org, ExternalIDs: []string{"e1", "e2", "e3"}})
				return err
			}
		}},
		{name: "bulk start", second: "conflict", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			e.at(0)
			b := faultBulk(t, e, org, false, "e1", "e2", "e3")
			return func(ctx context.Context) error {
				_, err := e.core.Noname.Start(ctx, org, b.ID)
				return err
			}
		}},
		{name: "bulk increment", second: "conflict", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			e.at(0)
			b := faultBulk(t, e, org, true, "e1", "e2")
			return func(ctx context.Context) error {
				_, err := e.core.Noname.Increment(ctx, org, b.ID, []string{"e3", "e4", "e5"})
				return err
			}
		}},
		{name: "bulk cancel", second: "conflict", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// One card of the bulk is bound, and stays as it is.
			e.at(0)
			b := faultBulk(t, e, org, true, "e1", "e2", "e3")
			bound := faultBulkCard(t, e, org, b.ID, "e2")
			if _, err := e.core.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: bound, AccountID: faultAccount, CustomerID: faultCustomer}); err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) error {
				_, _, err := e.core.Noname.Cancel(ctx, org, b.ID, noname.CancelFull, nil)
				return err
			}
		}},
		{name: "bind", second: "conflict", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// The noname card replaces a card of the account, which
			// becomes REISSUED in the same transaction.
			e.at(0)
			old := faultActivePlastic(t, e, org)
			b := faultBulk(t, e, org, true, "e1")
			req := noname.BindRequest{OrgID: org, CardID: faultBulkCard(t, e, org, b.ID, "e1"), AccountID: faultAccount,
				CustomerID: faultCustomer, PrintedName: "JANE DOE", ReissuedCardID: old.ID}
			return func(ctx context.Context) error {
				_, err := e.core.Noname.Bind(ctx, req)
				return err
			}
		}},
		{name: "sync batch", second: "ok", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// One entry closes a synced card, the other creates one.
			e.at(0)
			if _, err := e.core.Sync.Apply(t.Context(), syncBatch(org, syncOpen("1111"))); err != nil {
				t.Fatal(err)
			}
			closed, at := "CLOSED", cardtest.T0.Add(-time.Hour)
			batch := syncBatch(org, datasync.Entry{Last4: "1111", Status: &closed, CloseDate: &at}, syncOpen("2222"))
			return func(ctx context.Context) error {
				_, err := e.core.Sync.Apply(ctx, batch)
				return err
			}
		}},
		{name: "issuance create", second: "ok", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			e.at(0)
			return func(ctx context.Context) error {
				_, err := e.core.Issuance.Create(ctx, org, sandboxAccount, card.Virtual, sandboxKey)
				return err
			}
		}},
		{name: "issuance issue", second: "ok", setup: func(t *testing.T, e *faultEnv, org string) func(context.Context) error {
			// Issue provisions the PAN in the transaction that activates
			// the card.
			e.at(0)
			c, err := e.core.Issuance.Create(t.Context(), org, sandboxAccount, card.Virtual, "")
			if err != nil {
				t.Fatal(err)
			}
			req := issuance.Settlement{OrgID: org, Token: c.Token, IdempotencyKey: sandboxKey, Request: []byte(`{}`)}
			return func(ctx context.Context) error {
				_, err := e.core.Issuance.Issue(ctx, req)
				return err
			}
		}},
	}
}

// faultVirtual is a request for a VIRTUAL card of the account, valid for
// hours when not 0.
func faultVirtual(org, name string, hours int, key string) lifecycle.CreateRequest {
	never := 0
	return lifecycle.CreateRequest{OrgID: org, AccountID: faultAccount, CustomerID: faultCustomer, Type: card.Virtual,
		Name: name, CVVRotationIntervalHours: &never, ValidityPeriodHours: hours, IdempotencyKey: key}
}

func faultCreate(t *testing.T, e *faultEnv, req lifecycle.CreateRequest) card.Card {
	t.Helper()
	c, err := e.core.Cards.Create(t.Context(), req)
	if err != nil {
		t.Fatalf("fixture: create: %v", err)
	}
	return c
}

// faultActivePlastic is a NORMAL PLASTIC card of the account.
func faultActivePlastic(t *testing.T, e *faultEnv, org string) card.Card {
	t.Helper()
	c := faultCreate(t, e, lifecycle.CreateRequest{OrgID: org, AccountID: faultAccount, CustomerID: faultCustomer, Type: card.Plastic})
	c, err := e.core.Cards.Activate(t.Context(), org, c.ID)
	if err != nil {
		t.Fatalf("fixture: activate: %v", err)
	}
	return c
}

// faultReason is an enabled reissue reason without must_block.
func faultReason(t *testing.T, e *faultEnv, org string) card.Reason {
	t.Helper()
	r, err := e.core.Reissue.CreateReason(t.Context(), card.Reason{OrgID: org, Description: "card damaged",
		Type: "DAMAGED", Cost: "12.50", Enabled: true})
	if err != nil {
		t.Fatalf("fixture: reason: %v", err)
	}
	return r
}

// faultBulk is a bulk of the external ids, started when start.
func faultBulk(t *testing.T, e *faultEnv, org string, start bool, ids ...string) card.Bulk {
	t.Helper()
	b, err := e.core.Noname.Create(t.Context(), noname.CreateRequest{OrgID: org, ExternalIDs: ids})
	if err != nil {
		t.Fatalf("fixture: bulk: %v", err)
	}
	if start {
		if b, err = e.core.Noname.Start(t.Context(), org, b.ID); err != nil {
			t.Fatalf("fixture: start bulk: %v", err)
		}
	}
	return b
}

// faultBulkCard is the id of the card of external id ext in bulk, read
// past the store.
func faultBulkCard(t *testing.T, e *faultEnv, org, bulk, ext string) int64 {
	t.Helper()
	var id int64
	err := e.db.Direct.QueryRowContext(t.Context(),
		"SELECT id FROM cardcore_cards WHERE org_id = ? AND bulk_id = ? AND external_id = ?", org, bulk, ext).Scan(&id)
	if err != nil {
		t.Fatalf("fixture: the card of %s: %v", ext, err)
	}
	return id
}

// syncBatch is a batch of the account's synced cards.
func syncBatch(org string, entries ...datasync.Entry) datasync.Batch {
	for i := range entries {
		entries[i].Index, entries[i].SourceAccountID, entries[i].SourceCustomerID = i, faultAccount, faultCustomer
	}
	return datasync.Batch{OrgID: org, SourceAccountID: faultAccount, SourceCustomerID: faultCustomer, Entries: entries}
}

// syncOpen is an entry that creates an OPEN synced card.
func syncOpen(last4 string) datasync.Entry {
	iin, mode, open, network := "411111", "CREDIT", "OPEN", 4
	opened := cardtest.T0.AddDate(-1, 0, 0)
	return datasync.Entry{Last4: last4, IIN: &iin, CardType: &mode, Status: &open, NetworkIdentifier: &network, OpenDate: &opened}
}

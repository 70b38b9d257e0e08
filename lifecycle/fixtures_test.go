package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/lifecycle"
)

const org = "org-1"

// stored returns a valid PLASTIC card of org in status at now (see
// cardtest.Stored); n makes names unique.
func stored(status card.Status, now time.Time, n int) card.Card {
	return cardtest.Stored(org, card.Plastic, status, n, now)
}

// virtual returns a valid VIRTUAL card of org in status, named for n.
func virtual(status card.Status, now time.Time, n int) card.Card {
	return cardtest.Stored(org, card.Virtual, status, n, now)
}

// request is a valid create request of account acct-1 for a card of typ.
func request(typ card.Type, name string) lifecycle.CreateRequest {
	r := lifecycle.CreateRequest{OrgID: org, AccountID: "acct-1", CustomerID: "cust-1", Type: typ, Name: name, PrintedName: "JANE DOE"}
	if typ == card.Virtual {
		r.CVVRotationIntervalHours = cardtest.Ptr(0)
	}
	return r
}

func mustCreate(t testing.TB, e *cardtest.Env, req lifecycle.CreateRequest) card.Card {
	t.Helper()
	c, err := e.Cards.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("create %s %q: %v", req.Type, req.Name, err)
	}
	return c
}

package reissue_test

import (
	"context"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
)

const org = "org-1"

// stored returns a valid card of orgID of type typ in status (see
// cardtest.Stored), with an alias unique for n when VIRTUAL.
func stored(orgID string, typ card.Type, status card.Status, n int) card.Card {
	return cardtest.Stored(orgID, typ, status, n, cardtest.T0)
}

// newReason adds an enabled reason to orgID's catalogue.
func newReason(t cardtest.TB, e *cardtest.Env, orgID string, mustBlock bool) card.Reason {
	t.Helper()
	r, err := e.Reissue.CreateReason(context.Background(), card.Reason{
		OrgID: orgID, Description: "card damaged", Type: "DAMAGED", MustBlock: mustBlock, Cost: "12.50", Enabled: true,
	})
	if err != nil {
		t.Fatalf("create reason: %v", err)
	}
	return r
}

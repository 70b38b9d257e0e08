package reissue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/reissue"
)

// BenchmarkReissue measures Reissue of a NORMAL PLASTIC card for a reason
// without must_block (the old card becomes REISSUED: one update, one
// insert, two events), from 1 and 16 goroutines, on SQLite and on
// PostgreSQL (when CARDCORE_TEST_PG_DSN is set). Every operation reissues a
// card of its own, inserted before the timer starts.
func BenchmarkReissue(b *testing.B) {
	cardtest.Benchmark(b, func(b *testing.B, e *cardtest.Env) {
		runs := 0
		for _, goroutines := range []int{1, 16} {
			b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
				runs++
				orgID := fmt.Sprintf("bench-%d", runs)
				reason := newReason(b, e, orgID, false)
				ids := benchCards(b, e, orgID, b.N)
				var next atomic.Int64
				cardtest.Ops(b, goroutines, func(ctx context.Context) error {
					id := ids[next.Add(1)-1]
					_, err := e.Reissue.Reissue(ctx, reissue.Request{OrgID: orgID, CardID: id, ReasonID: reason.ID})
					return err
				})
			})
		}
	})
}

// benchCards inserts n NORMAL PLASTIC cards of orgID, in batches, and
// returns their ids.
func benchCards(b *testing.B, e *cardtest.Env, orgID string, n int) []int64 {
	b.Helper()
	const batch = 1000
	ids := make([]int64, 0, n)
	for len(ids) < n {
		cs := make([]*card.Card, min(batch, n-len(ids)))
		for i := range cs {
			c := stored(orgID, card.Plastic, card.Normal, len(ids)+i)
			cs[i] = &c
		}
		e.Insert(b, cs...)
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

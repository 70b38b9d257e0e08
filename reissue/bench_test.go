package reissue_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
)

// BenchmarkReissue measures Reissue of a NORMAL PLASTIC card for a reason
// without must_block (the old card becomes REISSUED: one update, one
// insert, two events), from 1 and 16 goroutines, on SQLite and on
// PostgreSQL (when CARDCORE_TEST_PG_DSN is set). Every operation reissues a
// card of its own, inserted before the timer starts.
func BenchmarkReissue(b *testing.B) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, testdb.Open(b, kind), nil)
			runs := 0
			for _, goroutines := range []int{1, 16} {
				b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
					runs++
					orgID := fmt.Sprintf("bench-%d", runs)
					reason := newReason(b, e, orgID, false)
					ids := benchCards(b, e, orgID, b.N)
					var next atomic.Int64
					reissueOne := func() error {
						id := ids[next.Add(1)-1]
						_, err := e.reissue.Reissue(context.Background(), reissue.Request{OrgID: orgID, CardID: id, ReasonID: reason.ID})
						return err
					}
					b.ReportAllocs()
					b.ResetTimer()
					if goroutines == 1 {
						for range b.N {
							if err := reissueOne(); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						procs := runtime.GOMAXPROCS(0)
						b.SetParallelism((goroutines + procs - 1) / procs)
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if err := reissueOne(); err != nil {
									b.Error(err) // FailNow belongs to the benchmark's goroutine
									return
								}
							}
						})
					}
					b.StopTimer()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
				})
			}
		})
	}
}

// benchCards inserts n NORMAL PLASTIC cards of orgID, in batches, and
// returns their ids.
func benchCards(b *testing.B, e *env, orgID string, n int) []int64 {
	b.Helper()
	const batch = 1000
	ids := make([]int64, 0, n)
	for len(ids) < n {
		cs := make([]card.Card, min(batch, n-len(ids)))
		for i := range cs {
			cs[i] = stored(orgID, card.Plastic, card.Normal, len(ids)+i)
		}
		err := e.store.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
			return tx.InsertCards(ctx, cs)
		})
		if err != nil {
			b.Fatalf("insert cards: %v", err)
		}
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

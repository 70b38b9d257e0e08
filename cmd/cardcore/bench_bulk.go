package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cardcore/cardcore/card"
)

// bulkTransitionCards are the cards the status updates of bulk+transition
// pick from.
const bulkTransitionCards = 10000

// bulkTransition measures the status updates (as the transition workload
// makes them, one worker per count of --workers, default 1) that run while a
// noname bulk of n cards starts: each waits for the SQLite write lock at
// most about one chunk of the bulk. It reports the updates' rate and
// latency over the bulk's run, and logs the bulk's own rate and the
// slowest update.
func (b *bench) bulkTransition(ctx context.Context) ([]benchResult, error) {
	workers := 1
	if len(b.cfg.workers) > 0 {
		workers = b.cfg.workers[0]
	}
	b.db.SetMaxOpenConns(workers + 2)
	b.db.SetMaxIdleConns(workers + 2)
	org := "bench-" + randomHex(4)
	ids, err := b.makeCards(ctx, org, bulkTransitionCards, card.Temporary, card.Normal)
	if err != nil {
		return nil, err
	}
	bulk, err := b.createBulk(ctx, org, b.cfg.n)
	if err != nil {
		return nil, err
	}
	if err := b.settle(ctx); err != nil {
		return nil, err
	}
	b.made.Store(0)
	stop := b.progress("bulk+transition", workers, &b.made)
	defer stop()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
		firstErr  error
	)
	bulkDone := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocked := make(map[int64]bool)
			var mine []time.Duration
			fails := 0
			var first error
			for {
				select {
				case <-bulkDone:
					mu.Lock()
					latencies = append(latencies, mine...)
					failures += fails
					if firstErr == nil {
						firstErr = first
					}
					mu.Unlock()
					return
				default:
				}
				// Each worker owns a stripe of the cards.
				id := ids[rand.IntN(len(ids)/workers)*workers+w]
				to := card.Blocked
				if blocked[id] {
					to = card.Normal
				}
				t0 := time.Now()
				_, err := b.cards.UpdateStatus(ctx, org, id, to)
				if err != nil {
					fails++
					if first == nil {
						first = err
					}
					continue
				}
				mine = append(mine, time.Since(t0))
				blocked[id] = !blocked[id]
			}
		}()
	}
	prof := b.profile("bulk+transition")
	prof.start()
	t0 := time.Now()
	_, err = b.noname.Start(ctx, org, bulk.ID)
	elapsed := time.Since(t0)
	close(bulkDone)
	wg.Wait()
	if err := errors.Join(err, prof.stop()); err != nil {
		return nil, err
	}
	if firstErr != nil {
		b.log.Warn("status updates failed during the bulk", "failures", failures, "first", firstErr)
	}
	if len(latencies) == 0 {
		return nil, firstErr
	}
	slices.Sort(latencies)
	b.log.Info("bulk+transition", "bulk_cards_per_s", round1(float64(b.cfg.n)/elapsed.Seconds()),
		"updates", len(latencies), "max_update_us", micros(latencies[len(latencies)-1]))
	return []benchResult{{DB: b.kind, Workload: "bulk+transition", Workers: workers,
		OpsPerS: round1(float64(len(latencies)) / elapsed.Seconds()),
		P50us:   micros(latencies[len(latencies)/2]), P99us: micros(latencies[len(latencies)*99/100]),
		PeakRSSMiB: peakRSSMiB(), Unit: "status updates/s during a bulk of " + strconv.Itoa(b.cfg.n) + " cards",
		Ops: int64(len(latencies)), Secs: round3(elapsed.Seconds()), Errors: int64(failures)}}, nil
}

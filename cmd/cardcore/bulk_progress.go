package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/noname"
)

// bulkProgressEvery is how often serve logs the progress of a bulk start.
const bulkProgressEvery = 5 * time.Second

// bulkProgress returns the progress function of serve's noname bulks: it
// logs a bulk start's cards made at most every bulkProgressEvery, and
// once when the bulk is STARTED.
func bulkProgress(log *slog.Logger) func(ctx context.Context, b card.Bulk) {
	var (
		mu   sync.Mutex
		last = map[string]time.Time{} // the bulks being started, by id: when they were last logged
	)
	return func(_ context.Context, b card.Bulk) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if b.Status == card.BulkStarted {
			delete(last, b.ID)
			log.Info("bulk started", "org", b.OrgID, "bulk", b.ID, "cards", b.CardsMade)
			return
		}
		at, seen := last[b.ID]
		if !seen {
			last[b.ID] = now // the first chunk: logged after bulkProgressEvery
			return
		}
		if now.Sub(at) >= bulkProgressEvery {
			last[b.ID] = now
			log.Info("bulk processing", "org", b.OrgID, "bulk", b.ID, "cards_made", b.CardsMade, "external_ids", b.ExternalIDs)
		}
	}
}

// resumeBulks finishes the bulks a stopped process left PROCESSING, as
// serve starts (noname.Service.Resume).
func resumeBulks(ctx context.Context, log *slog.Logger, s *noname.Service) {
	done, err := s.Resume(ctx)
	for _, b := range done {
		log.Info("bulk resumed and started", "org", b.OrgID, "bulk", b.ID, "cards", b.CardsMade)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("resume processing bulks", "err", err)
	}
}

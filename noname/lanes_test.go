package noname_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/storage"
)

// inFlight is a store that counts the transactions (Update) running at
// once, and says whether its store runs writers at once, as it does. It
// also counts the transactions that saved a STARTED bulk while marked to
// commit lazily (storage.WithLazyCommit): a start's last chunk must commit
// durably, since Start then reports the bulk STARTED.
type inFlight struct {
	storage.Store
	now, most  atomic.Int32
	lazyStarts atomic.Int32
}

func (s *inFlight) Update(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) error {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	lazy := storage.LazyCommit(ctx)
	return s.Store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		started := false
		if err := fn(ctx, savedBulk{Tx: tx, started: &started}); err != nil {
			return err
		}
		if lazy && started {
			s.lazyStarts.Add(1)
		}
		return nil
	})
}

// savedBulk notes whether its transaction saved a STARTED bulk.
type savedBulk struct {
	storage.Tx
	started *bool
}

func (t savedBulk) SaveBulk(ctx context.Context, b *card.Bulk) error {
	if b.Status == card.BulkStarted {
		*t.started = true
	}
	return t.Tx.SaveBulk(ctx, b)
}

func (s *inFlight) ConcurrentWrites() bool {
	w, ok := s.Store.(storage.ConcurrentWriter)
	return ok && w.ConcurrentWrites()
}

// laned returns a Service over store that starts bulks with 2 lanes,
// chunks of chunk cards in batches of 2, calling progress after each
// chunk.
func laned(t *testing.T, e *cardtest.Env, store storage.Store, chunk int, progress func(ctx context.Context, b card.Bulk)) *noname.Service {
	t.Helper()
	return starter(t, e, store, 2, chunk, progress)
}

// With two lanes a start runs two chunks at once on PostgreSQL, one at a
// time on SQLite (one writer), and either way commits them in the order
// of the bulk's positions: every report shows more cards made than the
// one before, the bulk PROCESSING with exactly its cards and events
// between chunks, and one card and one event per external id at the end.
func TestLanesMakeEachCardOnce(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ids := extIDs("lane", 61)
		b := mustCreateBulk(t, e, ids...)
		seq := e.Outbox(t, org).LastSeq()
		store := &inFlight{Store: e.Store}
		var seen []int
		s := laned(t, e, store, 3, func(ctx context.Context, got card.Bulk) {
			if len(seen) > 0 && got.CardsMade <= seen[len(seen)-1] {
				t.Errorf("cards made %d after %d", got.CardsMade, seen[len(seen)-1])
			}
			seen = append(seen, got.CardsMade)
			if got.Status == card.BulkStarted {
				return
			}
			v, err := e.Noname.Get(ctx, org, b.ID)
			if err != nil {
				t.Error(err)
				return
			}
			// The chunk after the reported one may have committed since,
			// and so may the last, leaving the bulk STARTED.
			moving := v.Status == card.BulkProcessing || (v.Status == card.BulkStarted && v.CardsMade == len(ids))
			if !moving || v.CardsMade < got.CardsMade || !madeCounted(v) {
				t.Errorf("between chunks: %+v, reported %d made", v, got.CardsMade)
			}
		})
		// Meanwhile Get, called again and again, sees the bulk's cards
		// and its CardsMade as of one moment, however the chunks commit.
		done := make(chan struct{})
		var views sync.WaitGroup
		views.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				v, err := e.Noname.Get(t.Context(), org, b.ID)
				if err != nil || !madeCounted(v) {
					t.Errorf("Get %d during the start: %+v, %v", n, v, err)
					return
				}
			}
		})
		got, err := s.Start(t.Context(), org, b.ID)
		close(done)
		views.Wait()
		if err != nil || got.Status != card.BulkStarted {
			t.Fatalf("Start: %+v, %v", got, err)
		}
		if seen[len(seen)-1] != len(ids) {
			t.Fatalf("cards made after each chunk: %v; want the last at %d", seen, len(ids))
		}
		wantWhole(t, e, b.ID, ids, seq)
		want := int32(1)
		if store.ConcurrentWrites() {
			want = 2
		}
		if m := store.most.Load(); m != want {
			t.Fatalf("%d transactions of the start at once; want %d", m, want)
		}
	})
}

// madeCounted reports whether v, a bulk being started, counts as many
// cards as it says it made, all UNBOUND.
func madeCounted(v noname.View) bool {
	return v.Cards[card.Unbound] == v.CardsMade && len(v.Cards) == min(v.CardsMade, 1)
}

// A start with lanes that stops midway leaves the bulk PROCESSING with
// the cards of the chunks it committed, which are the bulk's first
// positions, each with its event; a start with lanes finishes it.
func TestLanesStoppedStartResumes(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ids := extIDs("lr", 41)
		b := mustCreateBulk(t, e, ids...)
		seq := e.Outbox(t, org).LastSeq()
		v := stopAfter(t, e, b.ID, 3, func(p func(context.Context, card.Bulk)) *noname.Service { return laned(t, e, e.Store, 4, p) })
		cs := bulkCards(t, e, org, b.ID)
		if v.Status != card.BulkProcessing || v.CardsMade < 12 || v.CardsMade >= len(ids) || len(cs) != v.CardsMade ||
			len(e.Outbox(t, org).Since(seq)) != v.CardsMade {
			t.Fatalf("stopped after 3 chunks of 4: %+v, %d cards, %d events", v, len(cs), len(e.Outbox(t, org).Since(seq)))
		}
		for _, id := range ids[:v.CardsMade] {
			if _, ok := cs[id]; !ok {
				t.Fatalf("%d cards made, but none for %q: not the bulk's first positions", v.CardsMade, id)
			}
		}
		if got, err := laned(t, e, e.Store, 4, nil).Start(t.Context(), org, b.ID); err != nil || got.Status != card.BulkStarted {
			t.Fatalf("Start of the PROCESSING bulk: %+v, %v", got, err)
		}
		wantWhole(t, e, b.ID, ids, seq)
	})
}

// A FULL cancel while chunks are in flight stops the start: no chunk
// commits after it, every card made is canceled, and the start answers a
// conflict.
func TestLanesCancelStopsAStart(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b := mustCreateBulk(t, e, extIDs("lx", 40)...)
		var once sync.Once
		s := laned(t, e, e.Store, 2, func(ctx context.Context, got card.Bulk) {
			if got.CardsMade >= 4 {
				once.Do(func() {
					if _, _, err := e.Noname.Cancel(ctx, org, b.ID, noname.CancelFull, nil); err != nil {
						t.Errorf("cancel between chunks: %v", err)
					}
				})
			}
		})
		_, err := s.Start(t.Context(), org, b.ID)
		cardtest.WantConflict(t, err, "a start whose bulk was canceled")
		v, _ := e.Noname.Get(t.Context(), org, b.ID)
		cs := bulkCards(t, e, org, b.ID)
		if v.Status != card.BulkCanceled || v.CardsMade < 4 || len(cs) != v.CardsMade || v.Cards[card.Canceled] != v.CardsMade || len(v.Cards) != 1 {
			t.Fatalf("bulk after the cancel: %+v with %d cards; want CANCELED with every card made canceled", v, len(cs))
		}
	})
}

// Two Services with lanes finishing one PROCESSING bulk at once make each
// card once between them: a chunk that meets the other's cards, or finds
// the bulk moved on, rolls back and the start goes on from the bulk's row.
func TestLanesTwoResumersMakeEachCardOnce(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ids := extIDs("l2", 80)
		b := mustCreateBulk(t, e, ids...)
		seq := e.Outbox(t, org).LastSeq()
		stopAfter(t, e, b.ID, 1, func(p func(context.Context, card.Bulk)) *noname.Service { return laned(t, e, e.Store, 3, p) })
		stores := []*inFlight{{Store: e.Store}, {Store: e.Store}}
		resumers := []*noname.Service{laned(t, e, stores[0], 3, nil), laned(t, e, stores[1], 3, nil)}
		errs := cardtest.Race(2, func(g int) error {
			_, err := resumers[g].Start(t.Context(), org, b.ID)
			if err != nil && errors.Is(err, card.ErrConflict) {
				// The other finished the bulk before this one read it.
				if v, gerr := e.Noname.Get(t.Context(), org, b.ID); gerr == nil && v.Status == card.BulkStarted {
					return nil
				}
			}
			return err
		})
		for g, err := range errs {
			if err != nil {
				t.Fatalf("resumer %d: %v", g, err)
			}
			if n := stores[g].lazyStarts.Load(); n != 0 {
				t.Fatalf("resumer %d committed the bulk STARTED lazily", g)
			}
		}
		wantWhole(t, e, b.ID, ids, seq)
	})
}

// failing is a store whose transactions run to their end whatever their
// context, and roll back the one that makes the card of external id fail
// first, with errInjected.
type failing struct {
	inFlight
	fail string
}

var errInjected = errors.New("injected failure")

type firstSaved struct {
	storage.Tx
	first *string
}

func (t firstSaved) SaveNew(ctx context.Context, cs []card.Card, ch events.Change) error {
	if *t.first == "" && len(cs) > 0 {
		*t.first = cs[0].ExternalID
	}
	return t.Tx.SaveNew(ctx, cs, ch)
}

func (s *failing) Update(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) error {
	return s.inFlight.Update(context.WithoutCancel(ctx), func(ctx context.Context, tx storage.Tx) error {
		var first string
		if err := fn(ctx, firstSaved{Tx: tx, first: &first}); err != nil {
			return err
		}
		if first == s.fail {
			return errInjected
		}
		return nil
	})
}

// A chunk that fails while the chunk after it is in flight leaves no gap:
// the chunk after it, finding the bulk's count short of its first
// position, rolls back, whatever the start does meanwhile. So the cards
// made are always the bulk's first positions, and a start finishes it.
func TestLanesFailedChunkLeavesNoGap(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ids := extIDs("gap", 30)
		b := mustCreateBulk(t, e, ids...)
		seq := e.Outbox(t, org).LastSeq()
		store := &failing{inFlight: inFlight{Store: e.Store}, fail: ids[3]} // the second chunk's first card
		if _, err := laned(t, e, store, 3, nil).Start(t.Context(), org, b.ID); !errors.Is(err, errInjected) {
			t.Fatalf("Start with its second chunk failing: %v", err)
		}
		v, err := e.Noname.Get(t.Context(), org, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		cs := bulkCards(t, e, org, b.ID)
		if v.Status != card.BulkProcessing || v.CardsMade != 3 || len(cs) != 3 || len(e.Outbox(t, org).Since(seq)) != 3 {
			t.Fatalf("after the second chunk failed: %+v, %d cards; want the first chunk's 3", v, len(cs))
		}
		for _, id := range ids[:3] {
			if _, ok := cs[id]; !ok {
				t.Fatalf("no card for %q, one of the first chunk's", id)
			}
		}
		if got, err := laned(t, e, e.Store, 3, nil).Start(t.Context(), org, b.ID); err != nil || got.Status != card.BulkStarted {
			t.Fatalf("Start after the failure: %+v, %v", got, err)
		}
		wantWhole(t, e, b.ID, ids, seq)
	})
}

package noname_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/storage"
)

// chunked returns a Service over e's store whose starts commit chunk
// cards at a time (in batches of 2), calling progress after each chunk.
func chunked(t *testing.T, e *cardtest.Env, chunk int, progress func(ctx context.Context, b card.Bulk)) *noname.Service {
	t.Helper()
	return starter(t, e, e.Store, 1, chunk, progress)
}

// starter returns a Service over store whose starts run lanes chunks at
// once (noname.WithLanes), each of chunk cards in batches of 2, calling
// progress after each chunk.
func starter(t *testing.T, e *cardtest.Env, store storage.Store, lanes, chunk int, progress func(ctx context.Context, b card.Bulk)) *noname.Service {
	t.Helper()
	opts := []noname.Option{noname.WithLanes(lanes), noname.WithBatch(2), noname.WithChunk(chunk, time.Hour)}
	if progress != nil {
		opts = append(opts, noname.WithProgress(progress))
	}
	s, err := noname.New(store, e.Cards, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantWhole checks that bulk id holds exactly one card per external id of
// ids, each with exactly one Card created carrying its bulk and external
// id, and that org's feed holds nothing else since seq, gap-free: every
// event once, in rising feed positions.
func wantWhole(t *testing.T, e *cardtest.Env, id string, ids []string, seq int64) {
	t.Helper()
	v, err := e.Noname.Get(t.Context(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != card.BulkStarted || v.CardsMade != len(ids) || v.ExternalIDs != len(ids) || v.Cards[card.Unbound] != len(ids) {
		t.Fatalf("bulk %+v; want STARTED with %d cards made", v, len(ids))
	}
	cs := bulkCards(t, e, org, id) // fails on a second card for an external id
	if len(cs) != len(ids) {
		t.Fatalf("%d cards for %d external ids", len(cs), len(ids))
	}
	evs := e.Outbox(t, org).Since(seq)
	if len(evs) != len(ids) {
		t.Fatalf("%d events for %d cards", len(evs), len(ids))
	}
	seen := map[string]bool{}
	for i, ev := range evs {
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Fatalf("feed positions %d then %d", evs[i-1].Seq, ev.Seq)
		}
		if ev.Type != events.CardCreated || ev.Card.BulkID != id || seen[ev.Card.ExternalID] {
			t.Fatalf("event %d: %s of external id %q (seen before: %v)", i, ev.Type, ev.Card.ExternalID, seen[ev.Card.ExternalID])
		}
		seen[ev.Card.ExternalID] = true
		if c := cs[ev.Card.ExternalID]; c.ID != ev.CardID || c.Status != card.Unbound {
			t.Fatalf("event %d names card %d, the card of %q is %+v", i, ev.CardID, ev.Card.ExternalID, c)
		}
	}
}

// stopAfter starts bulk id with the Service mk makes around a progress
// function, cancels the start's context after its k-th chunk (as a
// process killed there), checks that Start answered context.Canceled, and
// returns the bulk as Get reads it then.
func stopAfter(t *testing.T, e *cardtest.Env, id string, k int, mk func(progress func(context.Context, card.Bulk)) *noname.Service) noname.View {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	chunks := 0
	s := mk(func(context.Context, card.Bulk) {
		if chunks++; chunks == k {
			cancel()
		}
	})
	if _, err := s.Start(ctx, org, id); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start canceled after chunk %d: %v; want context.Canceled", k, err)
	}
	v, err := e.Noname.Get(t.Context(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A start commits chunk by chunk: after each chunk, another reader sees
// the bulk PROCESSING with the count of cards made, exactly that many
// UNBOUND cards and as many events; the last chunk leaves it STARTED.
func TestStartCommitsChunkByChunk(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ids := extIDs("c", 10)
		b := mustCreateBulk(t, e, ids...)
		seq := e.Outbox(t, org).LastSeq()
		var seen []int
		s := chunked(t, e, 3, func(ctx context.Context, got card.Bulk) {
			v, err := e.Noname.Get(ctx, org, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, v.CardsMade)
			n := len(e.Outbox(t, org).Since(seq))
			if v.Status == card.BulkStarted {
				return
			}
			if v.Status != card.BulkProcessing || v.CardsMade != got.CardsMade || v.Cards[card.Unbound] != v.CardsMade || n != v.CardsMade {
				t.Fatalf("between chunks: bulk %+v (reported %d made), %d events; want PROCESSING with its cards and events", v, got.CardsMade, n)
			}
		})
		if _, err := s.Start(t.Context(), org, b.ID); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seen) != "[3 6 9 10]" {
			t.Fatalf("cards made after each chunk: %v; want [3 6 9 10]", seen)
		}
		wantWhole(t, e, b.ID, ids, seq)
	})
}

// A chunk ends at its time bound too: with a bound of 1ns each chunk is
// one batch (2 cards).
func TestChunkTimeBound(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b := mustCreateBulk(t, e, extIDs("t", 5)...)
		var seen []int
		s, err := noname.New(e.Store, e.Cards, noname.WithBatch(2), noname.WithChunk(1000, time.Nanosecond),
			noname.WithProgress(func(_ context.Context, b card.Bulk) { seen = append(seen, b.CardsMade) }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Start(t.Context(), org, b.ID); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seen) != "[2 4 5]" {
			t.Fatalf("cards made after each chunk: %v; want [2 4 5]", seen)
		}
	})
}

// A start that stops after chunk k (its context canceled there, as a
// process killed between two chunks) leaves the bulk PROCESSING with the
// cards of k chunks; Start again, or Resume, finishes it with exactly one
// card per external id and its one event, the feed gap-free.
func TestStoppedStartResumes(t *testing.T) {
	for _, how := range []string{"Start", "Resume"} {
		t.Run(how, func(t *testing.T) {
			cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
				ids := extIDs("r", 11)
				b := mustCreateBulk(t, e, ids...)
				seq := e.Outbox(t, org).LastSeq()
				v := stopAfter(t, e, b.ID, 2, func(p func(context.Context, card.Bulk)) *noname.Service { return chunked(t, e, 4, p) })
				if v.Status != card.BulkProcessing || v.CardsMade != 8 || v.Cards[card.Unbound] != 8 || len(e.Outbox(t, org).Since(seq)) != 8 {
					t.Fatalf("after 2 chunks of 4: %+v with %d events; want PROCESSING with 8 cards and events", v, len(e.Outbox(t, org).Since(seq)))
				}
				resumer := chunked(t, e, 4, nil)
				switch how {
				case "Start":
					got, err := resumer.Start(t.Context(), org, b.ID)
					if err != nil || got.Status != card.BulkStarted {
						t.Fatalf("Start of the PROCESSING bulk: %+v, %v", got, err)
					}
				case "Resume":
					done, err := resumer.Resume(t.Context())
					if err != nil || len(done) != 1 || done[0].ID != b.ID || done[0].Status != card.BulkStarted {
						t.Fatalf("Resume: %+v, %v; want the bulk STARTED", done, err)
					}
					if again, err := resumer.Resume(t.Context()); err != nil || len(again) != 0 {
						t.Fatalf("Resume with nothing PROCESSING: %+v, %v", again, err)
					}
				}
				wantWhole(t, e, b.ID, ids, seq)
				if _, err := e.Noname.Start(t.Context(), org, b.ID); err == nil {
					t.Fatal("a third Start of the STARTED bulk succeeded")
				} else {
					cardtest.WantConflict(t, err, "start a STARTED bulk")
				}
			})
		})
	}
}

// Two Services (two processes) finishing one PROCESSING bulk at once make
// each card once between them. Each resumer, once it committed its first
// chunk, waits (up to 10 s) for the other's first chunk, so that their
// chunks interleave: without it the first could finish the bulk before the
// second reads it, and the second's Start would rightly find it STARTED
// (a conflict, as any Start of a STARTED bulk).
func TestTwoResumersMakeEachCardOnce(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		ids := extIDs("two", 40)
		b := mustCreateBulk(t, e, ids...)
		seq := e.Outbox(t, org).LastSeq()
		ctx, cancel := context.WithCancel(t.Context())
		s := chunked(t, e, 3, func(context.Context, card.Bulk) { cancel() })
		if _, err := s.Start(ctx, org, b.ID); !errors.Is(err, context.Canceled) {
			t.Fatalf("Start canceled after chunk 1: %v", err)
		}
		var chunked1 [2]chan struct{} // closed at a resumer's first chunk
		var once [2]sync.Once
		resumers := make([]*noname.Service, 2)
		stores := []*inFlight{{Store: e.Store}, {Store: e.Store}}
		for g := range resumers {
			chunked1[g] = make(chan struct{})
			resumers[g] = starter(t, e, stores[g], 1, 3, func(context.Context, card.Bulk) {
				once[g].Do(func() { close(chunked1[g]) })
				select {
				case <-chunked1[1-g]:
				case <-time.After(10 * time.Second):
				}
			})
		}
		errs := cardtest.Race(2, func(g int) error {
			_, err := resumers[g].Start(t.Context(), org, b.ID)
			return err
		})
		for g, err := range errs {
			if err != nil {
				t.Fatalf("resumer %d: %v", g, err)
			}
			if stores[g].lazyStarts.Load() != 0 {
				t.Fatalf("resumer %d committed the bulk STARTED lazily", g)
			}
		}
		for g, c := range chunked1 {
			select {
			case <-c:
			default:
				t.Errorf("resumer %d made no chunk: the resumers did not interleave", g)
			}
		}
		wantWhole(t, e, b.ID, ids, seq)
	})
}

// What each operation does to a PROCESSING bulk (noname package doc):
// Increment and a PARTIAL Cancel are conflicts that change nothing; a
// FULL Cancel cancels the cards made so far, and the bulk can then be
// neither started nor resumed.
func TestProcessingBulkAnswers(t *testing.T) {
	cases := []struct {
		op       string
		run      func(ctx context.Context, e *cardtest.Env, id string) error
		conflict bool
	}{
		{"increment", func(ctx context.Context, e *cardtest.Env, id string) error {
			_, err := e.Noname.Increment(ctx, org, id, []string{"new"})
			return err
		}, true},
		{"PARTIAL cancel", func(ctx context.Context, e *cardtest.Env, id string) error {
			_, _, err := e.Noname.Cancel(ctx, org, id, noname.CancelPartial, []string{"p-1"})
			return err
		}, true},
		{"FULL cancel", func(ctx context.Context, e *cardtest.Env, id string) error {
			_, _, err := e.Noname.Cancel(ctx, org, id, noname.CancelFull, nil)
			return err
		}, false},
	}
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		for _, tc := range cases {
			t.Run(tc.op, func(t *testing.T) {
				b := mustCreateBulk(t, e, extIDs("p", 7)...)
				ctx, cancel := context.WithCancel(t.Context())
				s := chunked(t, e, 3, func(context.Context, card.Bulk) { cancel() })
				if _, err := s.Start(ctx, org, b.ID); !errors.Is(err, context.Canceled) {
					t.Fatalf("Start canceled after chunk 1: %v", err)
				}
				before, _ := e.Noname.Get(t.Context(), org, b.ID)
				seq := e.Outbox(t, org).LastSeq()
				err := tc.run(t.Context(), e, b.ID)
				after, _ := e.Noname.Get(t.Context(), org, b.ID)
				if tc.conflict {
					cardtest.WantConflict(t, err, tc.op+" of a PROCESSING bulk")
					if after.Version != before.Version || len(e.Outbox(t, org).Since(seq)) != 0 {
						t.Fatalf("%s refused, yet the bulk went from %+v to %+v", tc.op, before, after)
					}
					if _, err := e.Noname.Start(t.Context(), org, b.ID); err != nil {
						t.Fatalf("Start after the refused %s: %v", tc.op, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s of a PROCESSING bulk: %v", tc.op, err)
				}
				if after.Status != card.BulkCanceled || after.Cards[card.Canceled] != 3 || len(after.Cards) != 1 {
					t.Fatalf("after a FULL cancel of a bulk with 3 cards made: %+v", after)
				}
				if _, err := e.Noname.Start(t.Context(), org, b.ID); err == nil {
					t.Fatal("Start of the canceled bulk succeeded")
				}
				if done, err := e.Noname.Resume(t.Context()); err != nil || len(done) != 0 {
					t.Fatalf("Resume after the cancel: %+v, %v", done, err)
				}
				if n := len(bulkCards(t, e, org, b.ID)); n != 3 {
					t.Fatalf("%d cards after the cancel; want the 3 made before it", n)
				}
			})
		}
	})
}

// A FULL cancel between two chunks of a running start stops it: the
// start makes no more cards and answers a conflict.
func TestCancelStopsARunningStart(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b := mustCreateBulk(t, e, extIDs("x", 9)...)
		s := chunked(t, e, 2, func(ctx context.Context, got card.Bulk) {
			if got.CardsMade == 2 {
				if _, _, err := e.Noname.Cancel(ctx, org, b.ID, noname.CancelFull, nil); err != nil {
					t.Errorf("cancel between chunks: %v", err)
				}
			}
		})
		_, err := s.Start(t.Context(), org, b.ID)
		cardtest.WantConflict(t, err, "a start whose bulk was canceled")
		v, _ := e.Noname.Get(t.Context(), org, b.ID)
		if v.Status != card.BulkCanceled || v.CardsMade != 2 || v.Cards[card.Canceled] != 2 || len(v.Cards) != 1 {
			t.Fatalf("bulk after the cancel: %+v; want CANCELED with its 2 cards canceled", v)
		}
	})
}

// Two Starts of one bulk in one Service at once: one runs, the other is a
// conflict at once (it does not resume alongside).
func TestStartWhileStartingIsConflict(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b := mustCreateBulk(t, e, extIDs("w", 6)...)
		var s *noname.Service
		var second error
		s = chunked(t, e, 2, func(ctx context.Context, got card.Bulk) {
			if got.CardsMade == 2 {
				_, second = s.Start(ctx, org, b.ID)
			}
		})
		if _, err := s.Start(t.Context(), org, b.ID); err != nil {
			t.Fatal(err)
		}
		cardtest.WantConflict(t, second, "a second Start while the first runs")
	})
}

// Other writers go on between the chunks of a large start: a status
// update made once the first chunk committed completes while the bulk is
// still PROCESSING, having waited at most about a chunk.
func TestWritersInterleaveWithAStart(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		const n = 3000
		named := named(t, e, card.Plastic, "acct-1", card.Normal)
		b := mustCreateBulk(t, e, extIDs("big", n)...)
		var made atomic.Int64
		first := make(chan struct{})
		var once sync.Once
		s, err := noname.New(e.Store, e.Cards, noname.WithBatch(50), noname.WithChunk(100, time.Hour),
			noname.WithProgress(func(_ context.Context, b card.Bulk) {
				made.Store(int64(b.CardsMade))
				once.Do(func() { close(first) })
			}))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := s.Start(t.Context(), org, b.ID); done <- err }()
		<-first
		if _, err := e.Cards.UpdateStatus(t.Context(), org, named.ID, card.Blocked); err != nil {
			t.Fatalf("status update during the bulk: %v", err)
		}
		at := made.Load()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if at >= n {
			t.Fatalf("the status update completed only after the bulk's last chunk (%d of %d cards made)", at, n)
		}
		t.Logf("the update completed with %d of %d cards made", at, n)
	})
}

package httpapi

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// testFeed: the pages of GET /events, after and limit, scoped to the
// token's org (SPEC 5, 7.1).
func (e *env) testFeed(t *testing.T) {
	srv := serverTok(t, "o-feed")
	items, next := e.feedPage(t, srv, "")
	if len(items) != 0 || next != 0 {
		t.Errorf("empty feed: %d events, next_after %d", len(items), next)
	}
	var ids []int64
	for i := range 3 {
		ids = append(ids, integer(t, e.createCard(t, srv, acct, cust, virtual("Feed "+strconv.Itoa(i))), "id"))
	}
	all := e.allEvents(t, srv)
	if len(all) != 3 {
		t.Fatalf("feed holds %d events, want 3", len(all))
	}
	for i, ev := range all {
		d := ev.data
		if ev.typ != "create-1" || integer(t, d, "card_id") != ids[i] || integer(t, d, "program_id") != 1 ||
			str(t, d, "account_id") != acct || str(t, d, "customer_id") != cust || str(t, d, "card_status") != "NORMAL" ||
			str(t, d, "card_type") != "VIRTUAL" || integer(t, d, "version") != 1 || integer(t, ev.raw, "schema_version") < 1 {
			t.Errorf("event %d: %v", i, ev.raw)
		}
	}
	first, next := e.feedPage(t, srv, q("limit", "1"))
	if len(first) != 1 || first[0].id != all[0].id || next != first[0].seq {
		t.Errorf("limit=1: %d events, next_after %d", len(first), next)
	}
	second, _ := e.feedPage(t, srv, q("after", strconv.FormatInt(next, 10), "limit", "1"))
	if len(second) != 1 || second[0].id != all[1].id {
		t.Errorf("after=%d&limit=1: %v", next, second)
	}
	dflt, _ := e.feedPage(t, srv, "")
	if len(dflt) != 3 {
		t.Errorf("default page: %d events", len(dflt))
	}
	e.feedPage(t, srv, q("limit", "1000"))
	end := all[2].seq + 1000
	items, next = e.feedPage(t, srv, q("after", strconv.FormatInt(end, 10)))
	if len(items) != 0 || next != end {
		t.Errorf("page past the end: %d events, next_after %d, want 0 and %d", len(items), next, end)
	}
	for _, bad := range []string{q("after", "abc"), q("after", "1.5"), q("limit", "abc"), q("limit", "0"), q("limit", "-1")} {
		e.do(t, "GET", "/events"+bad, srv, nil).wantErr(t, http.StatusBadRequest, "")
	}
	// Scoped to the token's org.
	for _, ev := range e.allEvents(t, serverTok(t, "o-feed-other")) {
		t.Errorf("another org sees event %v", ev.raw)
	}
}

// TestFeedFollowsConcurrentChanges follows GET /events?after=N with
// next_after while 8 clients change cards through the API, and checks that
// it saw every committed event of the org exactly once, seqs rising, and
// each card's events in version order (SPEC 5, 7.1).
func TestFeedFollowsConcurrentChanges(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const org = "o-follow"
		srv := serverTok(t, org)
		acc := accountTok(t, org, acct)

		var shared []int64
		for i := range 4 {
			shared = append(shared, integer(t, e.createCard(t, srv, acct, cust, virtual("Shared "+strconv.Itoa(i))), "id"))
		}

		var (
			mu       sync.Mutex
			seen     []feedItem
			stop     = make(chan struct{})
			followed = make(chan struct{})
		)
		// The follower reads small pages while the writers run, then drains
		// the feed once they are done.
		go func() {
			defer close(followed)
			after := int64(0)
			for {
				var done bool
				select {
				case <-stop:
					done = true
				default:
				}
				items, next := e.feedPage(t, srv, q("after", strconv.FormatInt(after, 10), "limit", "7"))
				if len(items) > 0 && next != items[len(items)-1].seq {
					t.Errorf("next_after %d, want the page's last seq %d", next, items[len(items)-1].seq)
					return
				}
				if len(items) == 0 && next != after {
					t.Errorf("empty page after %d: next_after %d", after, next)
					return
				}
				mu.Lock()
				seen = append(seen, items...)
				mu.Unlock()
				after = next
				if done && len(items) == 0 {
					return
				}
			}
		}()

		const writers, ops = 8, 30
		statuses := []string{"NORMAL", "BLOCKED", "WARNING", "PENDING"}
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for i := range ops {
					tok := srv
					if rng.IntN(2) == 0 {
						tok = acc
					}
					if i%3 == 0 {
						r := e.do(t, "POST", "/wallet/v2/cards", tok, virtual(fmt.Sprintf("W%d-%d", w, i)),
							"x-account-id", acct, "x-customer-id", cust)
						if r.status != http.StatusCreated {
							t.Errorf("create: %s", r)
						}
						continue
					}
					id := shared[rng.IntN(len(shared))]
					r := e.do(t, "PUT", cardPath(cust, acct, id)+"/status", tok,
						map[string]any{"status": statuses[rng.IntN(len(statuses))]})
					if r.status != http.StatusOK {
						t.Errorf("status update: %s", r)
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		<-followed
		if t.Failed() {
			return
		}

		// Every committed event of the org, from the outbox.
		pending, err := e.core.Store.After(t.Context(), 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, ev := range pending {
			if ev.OrgID == org {
				want[ev.ID] = true
			}
		}
		got := map[string]int{}
		last := int64(0)
		versions := map[int64]int64{}
		for _, ev := range seen {
			got[ev.id]++
			if ev.seq <= last {
				t.Errorf("seq %d after %d", ev.seq, last)
			}
			last = ev.seq
			if ev.org != org {
				t.Errorf("event of org %s in the feed of %s", ev.org, org)
			}
			id := integer(t, ev.data, "card_id")
			v := integer(t, ev.data, "version")
			if v != versions[id]+1 {
				t.Errorf("card %d: event version %d after %d", id, v, versions[id])
			}
			versions[id] = v
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("event %s seen %d times", id, n)
			}
			if !want[id] {
				t.Errorf("event %s seen but not in the outbox", id)
			}
		}
		for id := range want {
			if got[id] == 0 {
				t.Errorf("committed event %s never seen", id)
			}
		}
		creates := len(shared) + writers*((ops+2)/3)
		if len(versions) != creates {
			t.Errorf("events of %d cards, want %d", len(versions), creates)
		}
		t.Logf("%d events of %d cards followed", len(seen), len(versions))
	})
}

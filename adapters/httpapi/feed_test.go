package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/uptrace/bun"
)

// TestFeedFollowsConcurrentChanges follows GET /events?after=N with
// next_after while 8 clients change cards through the API, and checks that
// it saw every committed event of the org exactly once, seqs rising, and
// each card's events in version order (SPEC 5, 7.1).
func TestFeedFollowsConcurrentChanges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
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
			wg.Add(1)
			go func() {
				defer wg.Done()
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
			}()
		}
		wg.Wait()
		close(stop)
		<-followed
		if t.Failed() {
			return
		}

		// Every committed event of the org, from the outbox.
		pending, err := e.store.Pending(t.Context(), 1<<20)
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

package noname

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/storage"
)

// idsTx serves the external ids of one bulk, at positions 1, 2, 3...,
// and counts its reads.
type idsTx struct {
	storage.Tx
	ids   []string
	reads int
}

func (t *idsTx) ExternalIDs(_ context.Context, _ string, after int64, limit int) ([]string, int64, error) {
	t.reads++
	from := min(int(after), len(t.ids))
	to := min(from+limit, len(t.ids))
	return slices.Clone(t.ids[from:to]), int64(to), nil
}

// take gives the ids at the positions asked, whatever it holds: in order,
// after a jump back (a chunk rolled back) or forward (another start's
// chunk), at the end of the list, and for more than it reads ahead.
func TestReadAheadTakesByPosition(t *testing.T) {
	tx := &idsTx{}
	for i := 1; i <= 23; i++ {
		tx.ids = append(tx.ids, fmt.Sprint("e", i))
	}
	r := readAhead{size: 5}
	steps := []struct {
		made, want int
		reads      int // the reads so far
	}{
		{0, 2, 1}, {2, 2, 1}, {4, 2, 2}, {6, 2, 2}, // in order: a read of 5 serves two batches
		{3, 2, 3},              // back
		{14, 3, 4}, {17, 2, 4}, // forward, past what it held
		{19, 7, 5}, // more than it reads ahead, to the end
		{22, 4, 5}, // the end, read already: one id
		{23, 4, 5}, // past the end: none
		{0, 23, 6}, // all of them
	}
	for _, s := range steps {
		got, err := r.take(t.Context(), tx, "b", s.made, s.want)
		if err != nil {
			t.Fatal(err)
		}
		want := tx.ids[s.made:min(s.made+s.want, len(tx.ids))]
		if !slices.Equal(got, want) {
			t.Fatalf("take(%d, %d) = %v; want %v", s.made, s.want, got, want)
		}
		if tx.reads != s.reads {
			t.Fatalf("take(%d, %d): %d reads so far; want %d", s.made, s.want, tx.reads, s.reads)
		}
	}
}

// A start's batch fits the time left at the last batch's rate, within
// [min(most, leastStartBatch), most]; the first, of unknown rate, is the
// least.
func TestBatchFitsTheChunkTime(t *testing.T) {
	for _, c := range []struct {
		most int
		rate float64
		left time.Duration
		want int
	}{
		{5000, 0, time.Second, 1000},                  // first batch: the least
		{5000, 40000, 80 * time.Millisecond, 4000},    // fits the time and a quarter
		{5000, 40000, time.Second, 5000},              // at most most
		{5000, 5000, 150 * time.Millisecond, 1000},    // at least the least
		{5000, 40000, -time.Millisecond, 1000},        // past the bound: the least
		{2, 0, time.Nanosecond, 2},                    // WithBatch(2): 2
		{2, 1e9, time.Hour, 2},                        // no overflow
		{300, 40000, 100 * time.Millisecond, 300},     // the chunk's last cards
		{5000, 12345.6, 200 * time.Millisecond, 3086}, // truncated
	} {
		if got := startBatch(c.most, c.rate, c.left); got != c.want {
			t.Errorf("startBatch(%d, %g, %v) = %d; want %d", c.most, c.rate, c.left, got, c.want)
		}
	}
}

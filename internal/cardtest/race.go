package cardtest

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/cardcore/cardcore/card"
)

// Race runs f(0) ... f(n-1) in n goroutines released at once, so that
// they contend for the same rows, and returns their errors by goroutine.
func Race(n int, f func(g int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[g] = f(g)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// Ops runs op b.N times, from one goroutine or spread over about
// goroutines of them, and reports the operations per second. Whatever the
// benchmark prepared before is outside the timer.
func Ops(b *testing.B, goroutines int, op func(ctx context.Context) error) {
	b.ReportAllocs()
	b.ResetTimer()
	if goroutines == 1 {
		for range b.N {
			if err := op(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((goroutines + procs - 1) / procs)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(context.Background()); err != nil {
					b.Error(err) // FailNow belongs to the benchmark's goroutine
					return
				}
			}
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// OneWins fails unless exactly one of errs, the answers of goroutines
// racing to do what, is nil and every other is a conflict; it returns the
// winner.
func OneWins(t TB, what string, errs []error) int {
	t.Helper()
	winner := -1
	for g, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: goroutines %d and %d both won", what, winner, g)
		case err == nil:
			winner = g
		case !errors.Is(err, card.ErrConflict):
			t.Fatalf("%s: goroutine %d: %v; want success or a conflict", what, g, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no goroutine won: %v", what, errs)
	}
	return winner
}

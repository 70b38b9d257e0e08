package lifecycle

import (
	"testing"

	"github.com/cardcore/cardcore/card"
)

// TestFSMAgreesWithAllowed fires every operation from every status towards
// every status on the real looplab FSM: it succeeds exactly when Allowed,
// the cached table every use case reads, says yes.
func TestFSMAgreesWithAllowed(t *testing.T) {
	for _, op := range Operations() {
		for _, from := range card.Statuses() {
			for _, to := range card.Statuses() {
				err := fire(op, from, to)
				if allowed := Allowed(op, from, to); allowed != (err == nil) {
					t.Errorf("%s from %s to %s: Allowed = %v, FSM: %v", op, from, to, allowed, err)
				}
			}
		}
	}
}

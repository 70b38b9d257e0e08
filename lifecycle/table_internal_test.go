package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/looplab/fsm"
)

// TestFSMAgreesWithAllowed fires every operation from every status towards
// every status on the real looplab FSM: it succeeds exactly when Allowed,
// the cached table every use case reads, says yes.
func TestFSMAgreesWithAllowed(t *testing.T) {
	for _, op := range card.Operations() {
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

// fire runs op towards to on a fresh FSM in status from. Tests use it to
// prove the table and the FSM agree; the context is never canceled, because
// a canceled context wedges a looplab FSM (looplab/fsm#115). A stay (to ==
// from) is an event looplab takes and answers with NoTransitionError.
func fire(op card.Operation, from, to card.Status) error {
	f := fsm.NewFSM(from.String(), definition, nil)
	err := f.Event(context.Background(), eventName(op, to))
	var stayed fsm.NoTransitionError
	if errors.As(err, &stayed) && from == to {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("fsm: %v", err)
	}
	if f.Current() != to.String() {
		return fmt.Errorf("fsm ended in %s, want %s", f.Current(), to)
	}
	return nil
}

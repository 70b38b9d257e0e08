package lifecycle

import (
	"sort"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/looplab/fsm"
)

// row is one line of SPEC section 2's table: op moves a card from any of
// from to to.
type row struct {
	op   card.Operation
	from []card.Status
	to   card.Status
}

var (
	initial     = []card.Status{card.Created, card.Unbound, card.Unnumbered}
	active      = []card.Status{card.Normal, card.Reissued}
	handBlocks  = []card.Status{card.Blocked, card.Pending, card.Warning} // temporary blocks a person may set
	termination = []card.Status{card.Lost, card.Robbed, card.Theft, card.Canceled, card.Fraud,
		card.Damaged, card.Expired, card.Deleted, card.Broken, card.Defect}
	nonTerminated = join(initial, active, handBlocks, []card.Status{card.Inoperative})
)

// rows is the transition table, written once. Everything else (the looplab
// FSM, the lookup table, the diagram) is derived from it.
func rows() []row {
	var rs []row
	to := func(op card.Operation, from []card.Status, dsts ...card.Status) {
		for _, d := range dsts {
			rs = append(rs, row{op, without(from, d), d})
		}
	}
	// Update status, by the group of the current status.
	to(card.UpdateStatus, active, join(handBlocks, termination)...)                 // active, REISSUED included
	to(card.UpdateStatus, handBlocks, join(handBlocks, active[:1], termination)...) // each other, NORMAL, terminations
	to(card.UpdateStatus, []card.Status{card.Inoperative}, termination...)
	to(card.UpdateStatus, initial, termination...)
	to(card.UpdateStatus, termination, termination...)
	// Use cases with a fixed path.
	to(card.Activate, []card.Status{card.Created}, card.Normal)
	to(card.Bind, []card.Status{card.Unbound}, card.Created)
	to(card.Number, []card.Status{card.Unnumbered}, card.Created, card.Unbound)
	to(card.Reissue, []card.Status{card.Normal}, card.Reissued)
	to(card.Reissue, join(active, initial, handBlocks, []card.Status{card.Inoperative}), card.Canceled)
	to(card.SuccessorActivated, nonTerminated, card.Canceled)
	to(card.CancelBulk, []card.Status{card.Unbound}, card.Canceled)
	to(card.Issuance, []card.Status{card.Pending}, card.Normal, card.Canceled)
	// System rules.
	to(card.ValidityElapses, join(active, handBlocks), card.Inoperative)
	to(card.RenewValidity, []card.Status{card.Inoperative}, card.Normal)
	to(card.Expire, nonTerminated, card.Expired)
	return rs
}

// eventName is the FSM event of op towards to. looplab/fsm events have one
// destination, so an operation with several destinations has one event per
// destination.
func eventName(op card.Operation, to card.Status) string {
	if !multiDestination[op] {
		return op.String()
	}
	return op.String() + "_" + strings.ToLower(to.String())
}

// multiDestination holds the operations that lead to more than one status.
var multiDestination = func() map[card.Operation]bool {
	dsts := map[card.Operation]card.Status{}
	multi := map[card.Operation]bool{}
	for _, r := range rows() {
		if d, ok := dsts[r.op]; ok && d != r.to {
			multi[r.op] = true
		}
		dsts[r.op] = r.to
	}
	return multi
}()

// definition is the looplab/fsm form of the table.
var definition = func() fsm.Events {
	var evs fsm.Events
	index := map[string]int{}
	for _, r := range rows() {
		name := eventName(r.op, r.to)
		i, ok := index[name]
		if !ok {
			i = len(evs)
			index[name] = i
			evs = append(evs, fsm.EventDesc{Name: name, Dst: r.to.String()})
		}
		for _, s := range r.from {
			evs[i].Src = append(evs[i].Src, s.String())
		}
	}
	for i := range evs {
		sort.Strings(evs[i].Src)
	}
	return evs
}()

// edge is an operation towards a destination: what one FSM event means.
type edge struct {
	op card.Operation
	to card.Status
}

// edgeOf maps an FSM event name back to its operation and destination.
var edgeOf = func() map[string]edge {
	m := map[string]edge{}
	for _, r := range rows() {
		m[eventName(r.op, r.to)] = edge{r.op, r.to}
	}
	return m
}()

// table[op][from] is the set of statuses op may move a card in from to, one
// bit per status. It is filled by asking the looplab FSM, started in each
// status, which events it can take: the FSM is the authority and the table
// its cache.
var table = func() (t [card.NumOperations + 1][card.NumStatuses + 1]uint32) {
	for _, from := range card.Statuses() {
		f := fsm.NewFSM(from.String(), definition, nil)
		for _, ev := range f.AvailableTransitions() {
			e := edgeOf[ev]
			t[e.op.Index()+1][from.Index()+1] |= 1 << uint(e.to.Index())
		}
	}
	return t
}()

// Allowed reports whether op may move a card from from to to. It does not
// apply the "same status" rule; see Decide.
func Allowed(op card.Operation, from, to card.Status) bool {
	if op.IsZero() || op.Index() >= card.NumOperations || from.IsZero() || to.IsZero() {
		return false
	}
	return table[op.Index()+1][from.Index()+1]&(1<<uint(to.Index())) != 0
}

// Decide applies the table to a card in status from that op would move to
// to. It reports whether the status changes:
//
//   - a status update to the status the card already has succeeds and
//     changes nothing (checked first);
//   - a move the table holds succeeds and changes the status;
//   - anything else is a *card.ConflictError naming from and to.
func Decide(op card.Operation, from, to card.Status) (changed bool, err error) {
	if op == card.UpdateStatus && from == to && !from.IsZero() {
		return false, nil
	}
	if Allowed(op, from, to) {
		return true, nil
	}
	ce := &card.ConflictError{Operation: op.String(), Status: from, Reason: refusal(op, from, to)}
	if op == card.UpdateStatus {
		ce.Requested = to // the other operations name their destination themselves
	}
	return false, ce
}

func refusal(op card.Operation, from, to card.Status) string {
	switch {
	case to == card.Inoperative && op == card.UpdateStatus:
		return "INOPERATIVE is set only when the validity period elapses"
	case from.Terminated():
		return "a terminated card never returns to an active or temporary status"
	case op == card.UpdateStatus && from == card.Created && to == card.Normal:
		return "a CREATED card becomes NORMAL only by activation"
	case op == card.UpdateStatus && from == card.Inoperative && to == card.Normal:
		return "an INOPERATIVE card returns to NORMAL only by renewing its validity"
	case op == card.Activate:
		return "only a CREATED card is activated"
	case op == card.Bind:
		return "only an UNBOUND card is bound"
	case op == card.Issuance:
		return "only a PENDING card is issued or failed"
	case op == card.CancelBulk:
		return "only an UNBOUND card is canceled with its bulk"
	case op == card.RenewValidity:
		return "only an INOPERATIVE card returns to NORMAL by renewal"
	}
	return "the transition table does not allow " + op.String() + " from " + from.String() + " to " + to.String()
}

// Transition is one edge of the table.
type Transition struct {
	Operation card.Operation
	From, To  card.Status
}

// Transitions lists every edge of the table, ordered by operation, from and to.
func Transitions() []Transition {
	var ts []Transition
	for _, op := range card.Operations() {
		for _, from := range card.Statuses() {
			for _, to := range card.Statuses() {
				if Allowed(op, from, to) {
					ts = append(ts, Transition{op, from, to})
				}
			}
		}
	}
	return ts
}

func join(groups ...[]card.Status) []card.Status {
	var out []card.Status
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func without(ss []card.Status, x card.Status) []card.Status {
	out := make([]card.Status, 0, len(ss))
	for _, s := range ss {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}

package lifecycle

import (
	"sort"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/looplab/fsm"
)

// row is one line of SPEC section 2's table (and section 12's): op moves a
// card from any of from to to. A row whose from is its to alone is a
// stay: op is accepted in that status and leaves the status as it is
// (a wrong PIN counted, a card's information updated).
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
	// pinCounting are the statuses in which a wrong PIN is counted: a card
	// with a cardholder and a PAN that is not terminated.
	pinCounting = join([]card.Status{card.Created}, active, handBlocks, []card.Status{card.Inoperative})
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
	stay := func(op card.Operation, in ...card.Status) {
		for _, s := range in {
			rs = append(rs, row{op, []card.Status{s}, s})
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
	// More of Pismo's lifecycle (SPEC 12): PIN tries and card information.
	stay(card.IncreasePINTries, pinCounting...)
	to(card.PINTriesExceeded, active, card.Blocked)
	to(card.ResetPINTries, []card.Status{card.Blocked}, card.Normal)
	stay(card.ResetPINTries, card.Normal, card.Pending, card.Warning)
	stay(card.UpdateInfo, nonTerminated...)
	return rs
}

// eventName is the FSM event of op towards to. A looplab/fsm event leads
// each of its sources to one destination, so an operation that leads one
// status to several (reissue: NORMAL to REISSUED or CANCELED) has one
// event per destination; any other operation is one event, whose
// destination depends on the source (reset_pin_tries: BLOCKED to NORMAL,
// PENDING stays PENDING).
func eventName(op card.Operation, to card.Status) string {
	if !multiDestination[op] {
		return op.String()
	}
	return op.String() + "_" + strings.ToLower(to.String())
}

// multiDestination holds the operations that lead one status to more than
// one status.
var multiDestination = func() map[card.Operation]bool {
	type source struct {
		op   card.Operation
		from card.Status
	}
	dsts := map[source]card.Status{}
	multi := map[card.Operation]bool{}
	for _, r := range rows() {
		for _, from := range r.from {
			k := source{r.op, from}
			if d, ok := dsts[k]; ok && d != r.to {
				multi[r.op] = true
			}
			dsts[k] = r.to
		}
	}
	return multi
}()

// definition is the looplab/fsm form of the table: one EventDesc per event
// and destination.
var definition = func() fsm.Events {
	var evs fsm.Events
	index := map[edge]int{}
	for _, r := range rows() {
		k := edge{r.op, r.to}
		i, ok := index[k]
		if !ok {
			i = len(evs)
			index[k] = i
			evs = append(evs, fsm.EventDesc{Name: eventName(r.op, r.to), Dst: r.to.String()})
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

// edge is an operation towards a destination: what one FSM event means
// from one source.
type edge struct {
	op card.Operation
	to card.Status
}

// edgeOf maps an FSM event name and its source back to its operation and
// destination.
var edgeOf = func() map[[2]string]edge {
	m := map[[2]string]edge{}
	for _, r := range rows() {
		for _, from := range r.from {
			m[[2]string{eventName(r.op, r.to), from.String()}] = edge{r.op, r.to}
		}
	}
	return m
}()

// table[op][from] is the set of statuses op may move a card in from to, one
// bit per status; the bit of from itself is a stay. It is filled by asking
// the looplab FSM, started in each status, which events it can take: the
// FSM is the authority and the table its cache.
var table = func() (t [card.NumOperations + 1][card.NumStatuses + 1]uint32) {
	for _, from := range card.Statuses() {
		f := fsm.NewFSM(from.String(), definition, nil)
		for _, ev := range f.AvailableTransitions() {
			e := edgeOf[[2]string{ev, from.String()}]
			t[e.op.Index()+1][from.Index()+1] |= 1 << uint(e.to.Index())
		}
	}
	return t
}()

// Allowed reports whether op may move a card from from to to; with to ==
// from, whether op is accepted in from and leaves the status as it is (a
// stay of SPEC 12: a wrong PIN counted, a reset count, an information
// update). It does not apply update status's "same status" rule; see
// Decide.
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
//   - a stay the table holds (to == from) succeeds and changes no status;
//   - anything else is a *card.ConflictError naming from and to.
func Decide(op card.Operation, from, to card.Status) (changed bool, err error) {
	if op == card.UpdateStatus && from == to && !from.IsZero() {
		return false, nil
	}
	if Allowed(op, from, to) {
		return from != to, nil
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
	case from.Terminated() && from == to:
		return "a terminated card never changes again"
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
	case op == card.IncreasePINTries:
		return "wrong PINs are counted only on a card with a cardholder and a PAN: not UNBOUND or UNNUMBERED"
	case op == card.PINTriesExceeded:
		return "only an active card (NORMAL, REISSUED) is blocked by its PIN tries"
	case op == card.ResetPINTries:
		return "the PIN tries are reset only on a BLOCKED, NORMAL, PENDING or WARNING card"
	case op == card.Number:
		return "only an UNNUMBERED card is numbered"
	}
	return "the transition table does not allow " + op.String() + " from " + from.String() + " to " + to.String()
}

// Transition is one edge of the table.
type Transition struct {
	Operation card.Operation
	From, To  card.Status
}

// Transitions lists every edge of the table, ordered by operation, from and
// to; a stay is an edge whose From is its To.
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

package lifecycle

import (
	"sort"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/looplab/fsm"
)

// Operation is something that may change a card's status: a use case
// (update status, activate, bind...) or a system rule (validity elapses,
// expiration passes). Only the package's variables exist.
type Operation struct{ v uint8 }

// The operations of the transition table, SPEC section 2.
var (
	UpdateStatus       = Operation{1}  // a status set by hand
	Activate           = Operation{2}  // PLASTIC only: CREATED -> NORMAL
	Bind               = Operation{3}  // noname: UNBOUND -> CREATED
	Number             = Operation{4}  // the issuer sets the PAN: UNNUMBERED -> CREATED or UNBOUND
	Reissue            = Operation{5}  // the old card of a reissue
	SuccessorActivated = Operation{6}  // the predecessor of an activated card
	CancelBulk         = Operation{7}  // UNBOUND cards of a canceled noname bulk
	Issuance           = Operation{8}  // section 9: PENDING -> NORMAL (issued) or CANCELED (failed)
	ValidityElapses    = Operation{9}  // system: valid_until passed
	RenewValidity      = Operation{10} // INOPERATIVE -> NORMAL
	Expire             = Operation{11} // system: expiration date passed
)

const numOperations = 11

var operationNames = [numOperations + 1]string{"",
	"update_status", "activate", "bind", "number", "reissue", "successor_activated",
	"cancel_bulk", "issuance", "validity_elapses", "renew_validity", "expire",
}

// Operations returns every operation.
func Operations() []Operation {
	ops := make([]Operation, numOperations)
	for i := range ops {
		ops[i] = Operation{uint8(i + 1)}
	}
	return ops
}

func (o Operation) String() string {
	if int(o.v) > numOperations {
		return ""
	}
	return operationNames[o.v]
}

// IsZero reports whether o is the zero Operation.
func (o Operation) IsZero() bool { return o.v == 0 }

// row is one line of SPEC section 2's table: op moves a card from any of
// from to to.
type row struct {
	op   Operation
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
	to := func(op Operation, from []card.Status, dsts ...card.Status) {
		for _, d := range dsts {
			rs = append(rs, row{op, without(from, d), d})
		}
	}
	// Update status, by the group of the current status.
	to(UpdateStatus, active, join(handBlocks, termination)...)                 // active, REISSUED included
	to(UpdateStatus, handBlocks, join(handBlocks, active[:1], termination)...) // each other, NORMAL, terminations
	to(UpdateStatus, []card.Status{card.Inoperative}, termination...)
	to(UpdateStatus, initial, termination...)
	to(UpdateStatus, termination, termination...)
	// Use cases with a fixed path.
	to(Activate, []card.Status{card.Created}, card.Normal)
	to(Bind, []card.Status{card.Unbound}, card.Created)
	to(Number, []card.Status{card.Unnumbered}, card.Created, card.Unbound)
	to(Reissue, []card.Status{card.Normal}, card.Reissued)
	to(Reissue, join(active, initial, handBlocks, []card.Status{card.Inoperative}), card.Canceled)
	to(SuccessorActivated, nonTerminated, card.Canceled)
	to(CancelBulk, []card.Status{card.Unbound}, card.Canceled)
	to(Issuance, []card.Status{card.Pending}, card.Normal, card.Canceled)
	// System rules.
	to(ValidityElapses, join(active, handBlocks), card.Inoperative)
	to(RenewValidity, []card.Status{card.Inoperative}, card.Normal)
	to(Expire, nonTerminated, card.Expired)
	return rs
}

// eventName is the FSM event of op towards to. looplab/fsm events have one
// destination, so an operation with several destinations has one event per
// destination.
func eventName(op Operation, to card.Status) string {
	if !multiDestination[op] {
		return op.String()
	}
	return op.String() + "_" + strings.ToLower(to.String())
}

// multiDestination holds the operations that lead to more than one status.
var multiDestination = func() map[Operation]bool {
	dsts := map[Operation]card.Status{}
	multi := map[Operation]bool{}
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
	op Operation
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
var table = func() (t [numOperations + 1][card.NumStatuses + 1]uint32) {
	for _, from := range card.Statuses() {
		f := fsm.NewFSM(from.String(), definition, nil)
		for _, ev := range f.AvailableTransitions() {
			e := edgeOf[ev]
			t[e.op.v][from.Index()+1] |= 1 << uint(e.to.Index())
		}
	}
	return t
}()

// Allowed reports whether op may move a card from from to to. It does not
// apply the "same status" rule; see Decide.
func Allowed(op Operation, from, to card.Status) bool {
	if op.v == 0 || int(op.v) > numOperations || from.IsZero() || to.IsZero() {
		return false
	}
	return table[op.v][from.Index()+1]&(1<<uint(to.Index())) != 0
}

// Decide applies the table to a card in status from that op would move to
// to. It reports whether the status changes:
//
//   - a status update to the status the card already has succeeds and
//     changes nothing (checked first);
//   - a move the table holds succeeds and changes the status;
//   - anything else is a *card.ConflictError naming from and to.
func Decide(op Operation, from, to card.Status) (changed bool, err error) {
	if op == UpdateStatus && from == to && !from.IsZero() {
		return false, nil
	}
	if Allowed(op, from, to) {
		return true, nil
	}
	ce := &card.ConflictError{Operation: op.String(), Status: from, Reason: refusal(op, from, to)}
	if op == UpdateStatus {
		ce.Requested = to // the other operations name their destination themselves
	}
	return false, ce
}

func refusal(op Operation, from, to card.Status) string {
	switch {
	case to == card.Inoperative && op == UpdateStatus:
		return "INOPERATIVE is set only when the validity period elapses"
	case from.Terminated():
		return "a terminated card never returns to an active or temporary status"
	case op == UpdateStatus && from == card.Created && to == card.Normal:
		return "a CREATED card becomes NORMAL only by activation"
	case op == UpdateStatus && from == card.Inoperative && to == card.Normal:
		return "an INOPERATIVE card returns to NORMAL only by renewing its validity"
	case op == Activate:
		return "only a CREATED card is activated"
	case op == Bind:
		return "only an UNBOUND card is bound"
	case op == Issuance:
		return "only a PENDING card is issued or failed"
	case op == CancelBulk:
		return "only an UNBOUND card is canceled with its bulk"
	case op == RenewValidity:
		return "only an INOPERATIVE card returns to NORMAL by renewal"
	}
	return "the transition table does not allow " + op.String() + " from " + from.String() + " to " + to.String()
}

// Transition is one edge of the table.
type Transition struct {
	Operation Operation
	From, To  card.Status
}

// Transitions lists every edge of the table, ordered by operation, from and to.
func Transitions() []Transition {
	var ts []Transition
	for _, op := range Operations() {
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

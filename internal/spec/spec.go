package spec

import (
	"strings"

	"github.com/cardcore/cardcore/card"
)

// The groups of SPEC section 2, as space-separated status names.
const (
	Initial       = "CREATED UNBOUND UNNUMBERED"
	Active        = "NORMAL REISSUED"
	HandBlocks    = "BLOCKED PENDING WARNING" // the temporary blocks but INOPERATIVE
	Temporary     = HandBlocks + " INOPERATIVE"
	Termination   = "LOST ROBBED THEFT CANCELED FRAUD DAMAGED EXPIRED DELETED BROKEN DEFECT"
	NonTerminated = Initial + " " + Active + " " + Temporary
)

// Makers are the operations that make cards rather than move them: no row
// of the table is theirs (sections 1, 4 and 8).
var Makers = []card.Operation{card.Create, card.StartBulk, card.Sync}

// NotReissued are the statuses SPEC section 3 refuses to reissue.
const NotReissued = "UNBOUND UNNUMBERED DELETED"

// rows are the rows of the table: op moves a card from any status of from
// to any status of to. A row never moves a card to the status it is in
// ("each other", "any other termination"): that is the same-status rule,
// which is not a transition.
var rows = []struct {
	op       card.Operation
	from, to string
}{
	// update status | active | any temporary block but INOPERATIVE, any termination
	{card.UpdateStatus, Active, HandBlocks + " " + Termination},
	// update status | BLOCKED, PENDING, WARNING | each other, NORMAL, any termination
	{card.UpdateStatus, "BLOCKED PENDING WARNING", "BLOCKED PENDING WARNING NORMAL " + Termination},
	// update status | INOPERATIVE | any termination
	{card.UpdateStatus, "INOPERATIVE", Termination},
	// update status | CREATED, UNBOUND, UNNUMBERED | any termination
	{card.UpdateStatus, "CREATED UNBOUND UNNUMBERED", Termination},
	// update status | termination | any other termination
	{card.UpdateStatus, Termination, Termination},
	// update status | REISSUED | temporary blocks but INOPERATIVE, and terminations; not NORMAL
	{card.UpdateStatus, "REISSUED", HandBlocks + " " + Termination},
	// activate (PLASTIC only) | CREATED | NORMAL
	{card.Activate, "CREATED", "NORMAL"},
	// bind (noname) | UNBOUND | CREATED
	{card.Bind, "UNBOUND", "CREATED"},
	// number | UNNUMBERED | CREATED, or UNBOUND for a noname card
	{card.Number, "UNNUMBERED", "CREATED UNBOUND"},
	// reissue | NORMAL | REISSUED or CANCELED
	{card.Reissue, "NORMAL", "REISSUED CANCELED"},
	// reissue | REISSUED, initial or temporary block | CANCELED, else unchanged
	{card.Reissue, "REISSUED " + Initial + " " + Temporary, "CANCELED"},
	// reissue | termination | unchanged, always: no row.
	// successor activated | any non-terminated | CANCELED
	{card.SuccessorActivated, NonTerminated, "CANCELED"},
	// cancel bulk | UNBOUND | CANCELED
	{card.CancelBulk, "UNBOUND", "CANCELED"},
	// issuance | PENDING | NORMAL (issued) or CANCELED (failed)
	{card.Issuance, "PENDING", "NORMAL CANCELED"},
	// validity elapses | NORMAL, REISSUED, BLOCKED, PENDING, WARNING | INOPERATIVE
	{card.ValidityElapses, "NORMAL REISSUED BLOCKED PENDING WARNING", "INOPERATIVE"},
	// renew validity | INOPERATIVE | NORMAL
	{card.RenewValidity, "INOPERATIVE", "NORMAL"},
	// expiration date passes | any non-terminated | EXPIRED
	{card.Expire, NonTerminated, "EXPIRED"},
	// Section 12. PIN tries reach the program's maximum | NORMAL -> BLOCKED;
	// REISSUED, the other active status, is not named: it blocks too (the
	// library's decision, an active card must not take unlimited PINs).
	{card.PINTriesExceeded, Active, "BLOCKED"},
	// reset PIN tries | BLOCKED | NORMAL
	{card.ResetPINTries, "BLOCKED", "NORMAL"},
}

// stays are section 12's operations accepted in a status that they leave
// as it is: op is accepted in each status of in.
var stays = []struct {
	op card.Operation
	in string
}{
	// increase PIN tries: "a CREATED card only counts"; a NORMAL card
	// counts (and may block, a row above). The spec is silent on the
	// others: the library counts on every card with a cardholder and a PAN
	// that is not terminated, refusing UNBOUND and UNNUMBERED.
	{card.IncreasePINTries, "CREATED " + Active + " " + Temporary},
	// reset PIN tries: "on a NORMAL, PENDING or WARNING card it only
	// resets; any other status -> 409".
	{card.ResetPINTries, "NORMAL PENDING WARNING"},
	// update card information: "a terminated card -> 409".
	{card.UpdateInfo, NonTerminated},
}

// Keeps reports whether op is accepted on a card in s and leaves its
// status as it is (section 12).
func Keeps(op card.Operation, s card.Status) bool {
	for _, st := range stays {
		if st.op == op && In(s, st.in) {
			return true
		}
	}
	return false
}

// PINTry is what section 12 says of a wrong PIN counted on a card in from
// whose count becomes tries, under a program whose maximum is max and that
// blocks when block: refused (a conflict) where no wrong PIN is counted;
// else BLOCKED when the count reached the maximum, the program blocks and
// the card is active; else the status kept.
func PINTry(from card.Status, tries, max int, block bool) (ok bool, to string) {
	if !Keeps(card.IncreasePINTries, from) {
		return false, from.String()
	}
	if tries >= max && block && Allows(card.PINTriesExceeded, from, card.Blocked) {
		return true, "BLOCKED"
	}
	return true, from.String()
}

// PINReset is what section 12 says of a reset of the PIN tries of a card
// in from: BLOCKED becomes NORMAL, NORMAL, PENDING and WARNING keep their
// status, anything else is refused.
func PINReset(from card.Status) (ok bool, to string) {
	switch {
	case Allows(card.ResetPINTries, from, card.Normal):
		return true, "NORMAL"
	case Keeps(card.ResetPINTries, from):
		return true, from.String()
	}
	return false, from.String()
}

// Allows reports whether a row of the table moves a card from from to to
// by op.
func Allows(op card.Operation, from, to card.Status) bool {
	if from == to {
		return false
	}
	for _, r := range rows {
		if r.op == op && In(from, r.from) && In(to, r.to) {
			return true
		}
	}
	return false
}

// In reports whether s is one of the space-separated status names.
func In(s card.Status, names string) bool {
	for _, n := range strings.Fields(names) {
		if n == s.String() {
			return true
		}
	}
	return false
}

// Terminated reports whether s is in the termination group.
func Terminated(s card.Status) bool { return In(s, Termination) }

// UpdateStatus is what section 2 says of a status set by hand: the same
// status succeeds and changes nothing (checked first), a row of the table
// changes it, anything else is a conflict.
func UpdateStatus(from, to card.Status) (ok, changed bool) {
	if from == to {
		return true, false
	}
	ok = Allows(card.UpdateStatus, from, to)
	return ok, ok
}

// ReissueOld is what section 3 says a reissue does to the old card, of
// type typ (as the spec spells it): refused (a conflict) for UNBOUND,
// UNNUMBERED and DELETED; else kept when terminated; else CANCELED for
// VIRTUAL, TEMPORARY, RECURRING or with must_block; else (PLASTIC without
// must_block) REISSUED when NORMAL and kept otherwise. A noname bind that
// replaces a card does to it what a reissue without must_block does
// (section 4).
func ReissueOld(typ string, mustBlock bool, from card.Status) (refused bool, to string) {
	switch {
	case In(from, NotReissued):
		return true, from.String()
	case Terminated(from):
		return false, from.String()
	case typ != "PLASTIC" || mustBlock:
		return false, "CANCELED"
	case from.String() == "NORMAL":
		return false, "REISSUED"
	}
	return false, from.String()
}

// NewStatus is the status a new card of typ starts in under program 1
// (section 2).
func NewStatus(typ string) string {
	if typ == "PLASTIC" {
		return "CREATED"
	}
	return "NORMAL"
}

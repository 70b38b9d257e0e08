package lifecycle_test

import (
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/lifecycle"
)

// This file is SPEC section 2's transition table copied by hand, row by
// row, with the status names as the spec spells them. The tests compare the
// library against it, so it must not be derived from package lifecycle.

const (
	specInitial       = "CREATED UNBOUND UNNUMBERED"
	specActive        = "NORMAL REISSUED"
	specHandBlocks    = "BLOCKED PENDING WARNING" // the temporary blocks but INOPERATIVE
	specTemporary     = specHandBlocks + " INOPERATIVE"
	specTermination   = "LOST ROBBED THEFT CANCELED FRAUD DAMAGED EXPIRED DELETED BROKEN DEFECT"
	specNonTerminated = specInitial + " " + specActive + " " + specTemporary
)

// specRows are the rows of the table: op moves a card from any status of
// from to any status of to. A row never moves a card to the status it is
// in ("each other", "any other termination"): that is the same-status rule,
// which is not a transition.
var specRows = []struct {
	op       lifecycle.Operation
	from, to string
}{
	// update status | active | any temporary block but INOPERATIVE, any termination
	{lifecycle.UpdateStatus, specActive, specHandBlocks + " " + specTermination},
	// update status | BLOCKED, PENDING, WARNING | each other, NORMAL, any termination
	{lifecycle.UpdateStatus, "BLOCKED PENDING WARNING", "BLOCKED PENDING WARNING NORMAL " + specTermination},
	// update status | INOPERATIVE | any termination
	{lifecycle.UpdateStatus, "INOPERATIVE", specTermination},
	// update status | CREATED, UNBOUND, UNNUMBERED | any termination
	{lifecycle.UpdateStatus, "CREATED UNBOUND UNNUMBERED", specTermination},
	// update status | termination | any other termination
	{lifecycle.UpdateStatus, specTermination, specTermination},
	// update status | REISSUED | temporary blocks but INOPERATIVE, and terminations; not NORMAL
	{lifecycle.UpdateStatus, "REISSUED", specHandBlocks + " " + specTermination},
	// activate (PLASTIC only) | CREATED | NORMAL
	{lifecycle.Activate, "CREATED", "NORMAL"},
	// bind (noname) | UNBOUND | CREATED
	{lifecycle.Bind, "UNBOUND", "CREATED"},
	// number | UNNUMBERED | CREATED, or UNBOUND for a noname card
	{lifecycle.Number, "UNNUMBERED", "CREATED UNBOUND"},
	// reissue | NORMAL | REISSUED or CANCELED
	{lifecycle.Reissue, "NORMAL", "REISSUED CANCELED"},
	// reissue | REISSUED, initial or temporary block | CANCELED, else unchanged
	{lifecycle.Reissue, "REISSUED " + specInitial + " " + specTemporary, "CANCELED"},
	// reissue | termination | unchanged, always: no row.
	// successor activated | any non-terminated | CANCELED
	{lifecycle.SuccessorActivated, specNonTerminated, "CANCELED"},
	// cancel bulk | UNBOUND | CANCELED
	{lifecycle.CancelBulk, "UNBOUND", "CANCELED"},
	// issuance | PENDING | NORMAL (issued) or CANCELED (failed)
	{lifecycle.Issuance, "PENDING", "NORMAL CANCELED"},
	// validity elapses | NORMAL, REISSUED, BLOCKED, PENDING, WARNING | INOPERATIVE
	{lifecycle.ValidityElapses, "NORMAL REISSUED BLOCKED PENDING WARNING", "INOPERATIVE"},
	// renew validity | INOPERATIVE | NORMAL
	{lifecycle.RenewValidity, "INOPERATIVE", "NORMAL"},
	// expiration date passes | any non-terminated | EXPIRED
	{lifecycle.Expire, specNonTerminated, "EXPIRED"},
}

// specAllows reports whether a row of the spec's table moves a card from
// from to to by op.
func specAllows(op lifecycle.Operation, from, to card.Status) bool {
	if from == to {
		return false
	}
	for _, r := range specRows {
		if r.op == op && specIn(from, r.from) && specIn(to, r.to) {
			return true
		}
	}
	return false
}

// specIn reports whether s is one of the space-separated status names.
func specIn(s card.Status, names string) bool {
	for _, n := range strings.Fields(names) {
		if n == s.String() {
			return true
		}
	}
	return false
}

// specTerminated reports whether s is in the spec's termination group.
func specTerminated(s card.Status) bool { return specIn(s, specTermination) }

// specUpdateStatus is what SPEC section 2 says of a status set by hand:
// the same status succeeds and changes nothing (checked first), a row of
// the table changes it, anything else is a conflict.
func specUpdateStatus(from, to card.Status) (ok, changed bool) {
	if from == to {
		return true, false
	}
	ok = specAllows(lifecycle.UpdateStatus, from, to)
	return ok, ok
}

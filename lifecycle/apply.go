package lifecycle

import (
	"time"

	"github.com/cardcore/cardcore/card"
)

// Apply is the one way a card's status changes: it consults the transition
// table for op from c's status to to and, when the table allows a change,
// moves c there, keeps the old status in PreviousStatus and counts the
// change in Version. A status update to the current status returns false
// and leaves c as it was. A refusal is a *card.ConflictError naming the
// card, both statuses and the operation, and leaves c as it was.
func Apply(c *card.Card, op card.Operation, to card.Status, now time.Time) (changed bool, err error) {
	changed, err = Decide(op, c.Status, to)
	if err != nil {
		if ce, ok := err.(*card.ConflictError); ok {
			ce.CardID = c.ID
		}
		return false, err
	}
	if !changed {
		return false, nil
	}
	c.PreviousStatus = c.Status
	c.Status = to
	Touch(c, now)
	return true, nil
}

// Touch counts a change of c that is not a status change (a renewed
// validity, new options): Version rises by one and UpdatedAt is now.
func Touch(c *card.Card, now time.Time) {
	c.Version++
	c.UpdatedAt = now
}

package reissue_test

import (
	"errors"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/reissue"
)

// Check answers the errors that do not depend on the card, and writes
// nothing.
func TestCheck(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		enabled := newReason(t, e, org, false)
		disabled := newReason(t, e, org, false)
		off := false
		if _, err := e.reissue.UpdateReason(t.Context(), org, disabled.ID, reissue.ReasonChange{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name  string
			req   reissue.Request
			field string // "" for no error
		}{
			{"valid", reissue.Request{OrgID: org, CardID: 999, ReasonID: enabled.ID}, ""},
			{"unknown reason", reissue.Request{OrgID: org, ReasonID: enabled.ID + 100}, "reason_id"},
			{"disabled reason", reissue.Request{OrgID: org, ReasonID: disabled.ID}, "reason_id"},
			{"reason of another org", reissue.Request{OrgID: "another-org", ReasonID: enabled.ID}, "reason_id"},
			{"bad pin length", reissue.Request{OrgID: org, ReasonID: enabled.ID, Options: reissue.Options{PINLength: 5}}, "pin_length"},
			{"bad printed name", reissue.Request{OrgID: org, ReasonID: enabled.ID, Options: reissue.Options{PrintedName: "J0HN"}}, "printed_name"},
			{"long key", reissue.Request{OrgID: org, ReasonID: enabled.ID, IdempotencyKey: "0123456789012345678901234567890123456789"}, "idempotency_key"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				err := e.reissue.Check(t.Context(), tt.req)
				var inv *card.InvalidError
				switch {
				case tt.field == "" && err != nil:
					t.Fatalf("Check = %v, want nil", err)
				case tt.field != "" && (!errors.As(err, &inv) || inv.Field != tt.field):
					t.Fatalf("Check = %v, want invalid %s", err, tt.field)
				}
			})
		}
		if evs, err := e.store.Pending(t.Context(), 100); err != nil || len(evs) != 0 {
			t.Fatalf("Check wrote %d events (%v), want none", len(evs), err)
		}
	})
}

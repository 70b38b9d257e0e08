package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/card"
)

// TestSpecTableNamesEveryStatus guards the hand-written table: every name
// in it is one of the 19 statuses, the groups cover each status once, and
// every operation of the library but those that make cards has a row.
func TestSpecTableNamesEveryStatus(t *testing.T) {
	groups := strings.Fields(Initial + " " + Active + " " + Temporary + " " + Termination)
	if len(groups) != card.NumStatuses {
		t.Fatalf("the spec's groups name %d statuses, want %d", len(groups), card.NumStatuses)
	}
	seen := map[card.Status]bool{}
	for _, n := range groups {
		s, err := card.ParseStatus(n)
		if err != nil {
			t.Fatalf("spec status %q: %v", n, err)
		}
		if seen[s] {
			t.Fatalf("spec status %s is in two groups", s)
		}
		seen[s] = true
		if s.Terminated() != Terminated(s) {
			t.Errorf("%s: Terminated() = %v, the spec's group says %v", s, s.Terminated(), Terminated(s))
		}
	}
	for _, r := range rows {
		for _, n := range strings.Fields(r.from + " " + r.to) {
			if _, err := card.ParseStatus(n); err != nil {
				t.Fatalf("row %s: %v", r.op, err)
			}
		}
	}
	for _, n := range strings.Fields(NotReissued) {
		if _, err := card.ParseStatus(n); err != nil {
			t.Fatalf("section 3: %v", err)
		}
	}
	for _, st := range stays {
		for _, n := range strings.Fields(st.in) {
			if _, err := card.ParseStatus(n); err != nil {
				t.Fatalf("stay %s: %v", st.op, err)
			}
		}
	}
	for _, op := range card.Operations() {
		has := false
		for _, r := range rows {
			has = has || r.op == op
		}
		for _, st := range stays {
			has = has || st.op == op
		}
		if maker := slices.Contains(Makers, op); has == maker {
			t.Errorf("operation %s: a row in the spec's table %v, makes cards %v", op, has, maker)
		}
	}
}

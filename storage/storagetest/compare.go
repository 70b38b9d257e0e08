package storagetest

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
)

// checkErr fails the test unless err wraps one of wants without exposing
// the database/sql errors a driver returns.
func checkErr(t *testing.T, what string, err error, wants ...error) {
	t.Helper()
	want := wants[0].Error()
	for _, w := range wants[1:] {
		want += " or " + w.Error()
	}
	switch {
	case err == nil:
		t.Errorf("%s: got no error, want one wrapping %q", what, want)
	case !slices.ContainsFunc(wants, func(w error) bool { return errors.Is(err, w) }):
		t.Errorf("%s: got %q, want an error wrapping %q", what, err, want)
	case exposesDriver(err):
		t.Errorf("%s: %q wraps a database/sql error; the store must translate it", what, err)
	}
}

// exposesDriver reports whether err wraps an error of database/sql.
func exposesDriver(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, sql.ErrTxDone) || errors.Is(err, sql.ErrConnDone)
}

// mustEqual reports the fields where got, a card, bulk or reason, differs
// from want.
func mustEqual[T any](t *testing.T, what string, want, got T) {
	t.Helper()
	if d := diffFields(want, got); len(d) > 0 {
		t.Errorf("%s (%s %v) differs from what was stored:\n\t%s", what, kind(want), idOf(want), strings.Join(d, "\n\t"))
	}
}

// mustEqualAll checks that got holds the cards, bulks or reasons of want,
// in that order.
func mustEqualAll[T any](t *testing.T, what string, want, got []T) {
	t.Helper()
	if w, g := IDs(want), IDs(got); !slices.Equal(w, g) {
		var zero T
		t.Errorf("%s: got %ss %v, want %v", what, kind(zero), g, w)
		return
	}
	for i := range want {
		mustEqual(t, what, want[i], got[i])
	}
}

// kind names what v is: "card", "reason", "bulk".
func kind(v any) string { return strings.ToLower(reflect.TypeOf(v).Name()) }

// idOf is the ID field of a card, bulk or reason.
func idOf(v any) any { return reflect.ValueOf(v).FieldByName("ID").Interface() }

// IDs is the ID field of each of xs (events, cards, ...), as text, in
// order.
func IDs[T any](xs []T) []string {
	ids := make([]string, len(xs))
	for i, x := range xs {
		ids[i] = fmt.Sprint(idOf(x))
	}
	return ids
}

func cardIDs(cs []card.Card) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// mustEqualEvents checks that got holds the events of want, in that order,
// with ascending positive seqs.
func mustEqualEvents(t *testing.T, what string, want, got []events.Event) {
	t.Helper()
	if !slices.Equal(eventIDs(want), eventIDs(got)) {
		t.Errorf("%s: got events %v, want %v", what, eventIDs(got), eventIDs(want))
		return
	}
	var last int64
	for i := range want {
		if got[i].Seq <= last {
			t.Errorf("%s: event %d has Seq %d, want above %d", what, i, got[i].Seq, last)
		}
		last = got[i].Seq
		if d := diffFields(want[i], got[i], "Seq"); len(d) > 0 {
			t.Errorf("%s: event %d (%s) differs from what was appended:\n\t%s", what, i, want[i].ID, strings.Join(d, "\n\t"))
		}
	}
}

func eventIDs(evs []events.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

// mustEqualIDs checks that got holds the ids of want, in that order.
func mustEqualIDs(t *testing.T, what string, want, got []string) {
	t.Helper()
	if slices.Equal(want, got) {
		return
	}
	if len(want) > 20 || len(got) > 20 {
		i := 0
		for i < min(len(want), len(got)) && want[i] == got[i] {
			i++
		}
		t.Errorf("%s: got %d ids, want %d; they differ first at index %d", what, len(got), len(want), i)
		return
	}
	t.Errorf("%s: got %q, want %q", what, got, want)
}

// mustEqualCounts checks got against want; a status absent from want must
// be absent from got, not counted as 0.
func mustEqualCounts(t *testing.T, what string, want, got map[card.Status]int) {
	t.Helper()
	if !maps.Equal(want, got) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// mustSetEveryField fails the test when v, a struct a round trip check
// stores, leaves a field but ID at its zero value: the check would not
// cover it.
func mustSetEveryField(t *testing.T, what string, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if name := rv.Type().Field(i).Name; name != "ID" && rv.Field(i).IsZero() {
			t.Fatalf("storagetest: %s leaves %s unset; set it so the round trip covers it", what, name)
		}
	}
}

// diffFields compares two structs of one type field by field, but the
// fields named in skip, and describes each difference. Times are equal when
// they are the same instant and got is in UTC (the zero time aside); JSON
// is equal when it decodes to the same value; the rest is reflect.DeepEqual.
// Walking the fields by reflection keeps the check honest when a field is
// added to card.Card or events.Event.
func diffFields(want, got any, skip ...string) []string {
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	var out []string
	for i := range wv.NumField() {
		name := wv.Type().Field(i).Name
		if slices.Contains(skip, name) {
			continue
		}
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		if !fieldEqual(w, g) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", name, show(g), show(w)))
		}
	}
	return out
}

func fieldEqual(want, got any) bool {
	switch w := want.(type) {
	case time.Time:
		g := got.(time.Time)
		return w.Equal(g) && (g.IsZero() || g.Location() == time.UTC)
	case json.RawMessage:
		return jsonEqual(w, got.(json.RawMessage))
	}
	return reflect.DeepEqual(want, got)
}

// jsonEqual reports whether a and b are the same JSON value; nil (no value)
// equals only nil or empty.
func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func show(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.Format(time.RFC3339Nano) + " (" + v.Location().String() + ")"
	case json.RawMessage:
		if v == nil {
			return "nil"
		}
		return "`" + string(v) + "`"
	case *int:
		if v == nil {
			return "nil"
		}
		return fmt.Sprintf("&%d", *v)
	case string:
		return fmt.Sprintf("%q", v)
	case fmt.Stringer:
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprintf("%v", v)
}

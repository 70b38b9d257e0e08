package bunstore

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// TestCardTableMatchesTheModel checks that the prepared statements' column
// table lists cardRow's bun columns in field order, each reading and
// writing its own field. Unexported fields (the chain link) are no
// columns.
func TestCardTableMatchesTheModel(t *testing.T) {
	typ := reflect.TypeOf(cardRow{})
	var fields []reflect.StructField
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Name != "BaseModel" && f.IsExported() {
			fields = append(fields, f)
		}
	}
	if len(fields) != len(cardTable) {
		t.Fatalf("cardRow has %d columns, cardTable %d", len(fields), len(cardTable))
	}
	var r cardRow
	base := uintptr(unsafe.Pointer(&r))
	for i, f := range fields {
		name, _, _ := strings.Cut(f.Tag.Get("bun"), ",")
		c := cardTable[i]
		if c.name != name {
			t.Errorf("column %d: cardTable has %q, cardRow field %s is %q", i, c.name, f.Name, name)
		}
		// The scan destination holds a pointer to the field itself.
		p := reflect.ValueOf(c.dest(&r)).Field(0).Pointer()
		if p-base != f.Offset {
			t.Errorf("column %q scans into the field at offset %d, want %s at %d", c.name, p-base, f.Name, f.Offset)
		}
	}
}

// TestChangedColumns checks that a save writes exactly the columns whose
// values changed, and never the immutable ones.
func TestChangedColumns(t *testing.T) {
	one := 1
	old := cardRow{ID: 7, Token: "t", OrgID: "o", Status: "NORMAL", Version: 3}
	nu := old
	nu.Token, nu.Status, nu.PreviousStatus, nu.Version, nu.CVVRotationIntervalHours = "changed", "BLOCKED", "NORMAL", 4, &one
	var got []string
	for _, i := range changedColumns(&old, &nu) {
		got = append(got, cardTable[i].name)
	}
	want := []string{"status", "previous_status", "cvv_rotation_interval_hours", "version"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changed columns = %v, want %v", got, want)
	}
}

// The texts of the save statements are cached by their columns as a set
// of cardTable's indexes in 64 bits, and each is the text its kind writes.
func TestSaveTexts(t *testing.T) {
	if len(cardTable) > 64 {
		t.Fatalf("cardTable has %d columns; saveKey holds 64", len(cardTable))
	}
	for _, pg := range []bool{false, true} {
		q := newQueries(pg)
		for _, cols := range [][]int{{1, 2}, {1, 3}, {2}, mutableColumns} {
			for kind, want := range map[uint8]string{plainSave: q.text.updateCard(cols),
				chainedSave: q.text.updateCardChained(cols), saveAndEvent: q.text.saveWithEvent(cols)} {
				for range 2 { // written, then cached
					if got := q.save(kind, cols); got != want {
						t.Errorf("pg %v, kind %d, columns %v: %q, want %q", pg, kind, cols, got, want)
					}
				}
			}
		}
	}
}

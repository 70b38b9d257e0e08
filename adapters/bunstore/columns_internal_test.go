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

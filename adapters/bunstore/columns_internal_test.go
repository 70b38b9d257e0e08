package bunstore

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"pgregory.net/rapid"
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

// TestParseTime checks the store's own reading of SQLite's time text
// against time.Parse: any time the store writes reads back the same, and
// for any text parseTime accepts, time.Parse agrees on the instant.
func TestParseTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		at := time.Unix(rapid.Int64Range(-62135596800+86400, 253402300799-86400).Draw(t, "sec"), rapid.Int64Range(0, 999_999_999).Draw(t, "nsec"))
		zone := time.FixedZone("", rapid.IntRange(-23*60+1, 23*60-1).Draw(t, "zone")*60)
		text := at.In(zone).Format(sqliteTime)
		got, ok := parseTime(text)
		if !ok {
			t.Fatalf("parseTime(%q) refused a time the store writes", text)
		}
		want, err := time.Parse(sqliteTime, text)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("parseTime(%q) = %v, time.Parse = %v (%v)", text, got, want, err)
		}
		// Any single byte changed: parseTime accepts only what time.Parse
		// reads as the same instant.
		b := []byte(text)
		b[rapid.IntRange(0, len(b)-1).Draw(t, "at")] = rapid.SampledFrom([]byte("0123456789+-:. TZx")).Draw(t, "byte")
		if got, ok := parseTime(string(b)); ok {
			want, err := time.Parse(sqliteTime, string(b))
			if err != nil || !got.Equal(want) {
				t.Fatalf("parseTime(%q) = %v, time.Parse = %v (%v)", b, got, want, err)
			}
		}
	})
	for _, s := range []string{"2026-02-30 10:00:00+00:00", "2026-13-01 10:00:00+00:00", "2026-12-06 24:00:00+00:00",
		"2026-12-06 10:00:00.+00:00", "2026-12-06 10:00:00Z", "2026-12-06T10:00:00+00:00", "2026-12-06 10:00:00.1234567891+00:00", ""} {
		if got, ok := parseTime(s); ok {
			t.Errorf("parseTime(%q) = %v, want it refused", s, got)
		}
	}
	var d time.Time
	if err := (timeDest{&d}).Scan("2026-12-06 10:00:00.5+02:00"); err != nil || !d.Equal(time.Date(2026, 12, 6, 8, 0, 0, 500_000_000, time.UTC)) {
		t.Errorf("timeDest read %v (%v)", d, err)
	}
	if err := (timeDest{&d}).Scan("2026-12-06T10:00:00Z"); err == nil {
		t.Errorf("timeDest read a time in another layout: %v", d)
	}
}

package events

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// jsonString draws the strings a card's data may hold: empty, plain ASCII,
// the characters encoding/json escapes, any Unicode, and invalid UTF-8.
var jsonString = rapid.OneOf(
	rapid.Just(""),
	rapid.StringMatching(`[a-zA-Z0-9 :_-]{1,20}`),
	rapid.StringMatching(`[a-z<>&"\\\x00-\x1f\x7f]{1,8}`),
	rapid.String(),
	rapid.Map(rapid.SliceOfN(rapid.Byte(), 1, 12), func(b []byte) string { return string(b) }),
)

// jsonInt draws zero (an omitted optional field) and numbers of any sign
// and size.
var jsonInt = rapid.OneOf(rapid.Just(int64(0)), rapid.Int64())

// appendJSON writes what encoding/json writes for every CardData: the
// field names, their order, the omitted empty fields and the escaping of
// strings. Every field is set to random values of its kind by reflection,
// so a field added to CardData and forgotten by appendJSON fails here.
func TestCardDataJSONMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var d CardData
		v := reflect.ValueOf(&d).Elem()
		for i := range v.NumField() {
			f := v.Field(i)
			name := v.Type().Field(i).Name
			switch f.Kind() {
			case reflect.String:
				f.SetString(jsonString.Draw(t, name))
			case reflect.Int, reflect.Int64:
				f.SetInt(jsonInt.Draw(t, name))
			default:
				t.Fatalf("CardData.%s is a %s: appendJSON and this test know strings and integers", name, f.Kind())
			}
		}
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		prefix := []byte("x")
		got := d.appendJSON(bytes.Clone(prefix))
		if !bytes.Equal(got, append(prefix, want...)) {
			t.Fatalf("appendJSON:\n got %s\nwant x%s", got, want)
		}
		e, err := New(context.Background(), CardUpdated, "org", d, time.Now())
		if err != nil || !bytes.Equal(e.Data, want) {
			t.Fatalf("New's data %s (%v), want %s", e.Data, err, want)
		}
	})
}

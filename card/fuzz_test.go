package card_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cardcore/cardcore/card"
)

// refused reports whether err refuses the input of call. It fails unless
// a refusal is an *InvalidError naming field.
func refused(t *testing.T, err error, field, call string) bool {
	t.Helper()
	if err == nil {
		return false
	}
	var ie *card.InvalidError
	if !errors.Is(err, card.ErrInvalid) || !errors.As(err, &ie) {
		t.Fatalf("err = %#v, want an *InvalidError", err)
	}
	if ie.Field != field {
		t.Fatalf("%s names field %q", call, ie.Field)
	}
	return true
}

// printedName is what SPEC section 1 accepts, written independently:
// 2-26 ASCII letters and spaces (the library also refuses a leading or
// trailing space, a stricter rule the spec leaves open).
var printedName = regexp.MustCompile(`^[A-Za-z][A-Za-z ]{0,24}[A-Za-z]$`)

func FuzzPrintedName(f *testing.F) {
	for _, s := range []string{"JANE DOE", "Al", "J", "", "JOSÉ", strings.Repeat("A", 26), strings.Repeat("A", 27),
		" A", "A ", "A\x00B", "JOHN 3RD", "\xff\xfe", "ＡＢ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := card.ValidatePrintedName(s)
		if refused(t, err, "printed_name", fmt.Sprintf("ValidatePrintedName(%q)", s)) {
			if printedName.MatchString(s) {
				t.Fatalf("ValidatePrintedName refused %q: %v", s, err)
			}
			return
		}
		if len(s) < 2 || len(s) > 26 {
			t.Fatalf("accepted %q of %d bytes", s, len(s))
		}
		for i := 0; i < len(s); i++ {
			if b := s[i]; b != ' ' && !('A' <= b && b <= 'Z') && !('a' <= b && b <= 'z') {
				t.Fatalf("accepted %q with byte %#x", s, b)
			}
		}
	})
}

func FuzzName(f *testing.F) {
	for _, s := range []string{"online", "a", "", strings.Repeat("é", 50), strings.Repeat("é", 51), "a\x00", "\xff", "a\u200bb", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if refused(t, card.ValidateName(s), "name", fmt.Sprintf("ValidateName(%q)", s)) {
			return
		}
		if n := utf8.RuneCountInString(s); n < 1 || n > 50 || !utf8.ValidString(s) {
			t.Fatalf("accepted %q: %d runes, valid UTF-8 %v", s, n, utf8.ValidString(s))
		}
		for _, r := range s {
			if !unicode.IsPrint(r) {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
	})
}

func FuzzMetadata(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"a":[1,{"b":null}]} `, `[]`, `"x"`, `null`, `{`, `{"a":1}x`, `{}{}`,
		`{"a":"\u0000"}`, "{\"a\":\"\xff\"}", `{"a":"` + strings.Repeat("x", 3193) + `"}`, `{"a":"` + strings.Repeat("x", 3194) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if refused(t, card.ValidateMetadata(json.RawMessage(b)), "metadata", fmt.Sprintf("ValidateMetadata(%q)", b)) {
			return
		}
		if len(b) > card.MaxMetadataBytes || !utf8.Valid(b) {
			t.Fatalf("accepted %d bytes (valid UTF-8 %v)", len(b), utf8.Valid(b))
		}
		var object map[string]any
		if err := json.Unmarshal(b, &object); err != nil || object == nil {
			t.Fatalf("accepted %q, which is not a JSON object: %v", b, err)
		}
	})
}

func FuzzParseExpiration(f *testing.F) {
	for _, s := range []string{"2803", "0001", "9912", "2800", "2813", "", "280", "28031", "2a03", "-103", "\xff\xff\xff\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := card.ParseExpiration(s)
		if refused(t, err, "expiration_date", fmt.Sprintf("ParseExpiration(%q)", s)) {
			return
		}
		if card.FormatExpiration(got) != s || !got.Equal(card.MonthOf(got)) || got.Year() < 2000 || got.Year() > 2099 {
			t.Fatalf("ParseExpiration(%q) = %v, which renders as %q", s, got, card.FormatExpiration(got))
		}
	})
}

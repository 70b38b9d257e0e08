package natsjs_test

import (
	"strings"
	"testing"

	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/events"
)

func TestSubject(t *testing.T) {
	for _, c := range []struct {
		org  string
		typ  events.Type
		want string
	}{
		{"acme", events.CardUpdated, "cardcore.acme.update-1"},
		{"org-42_x", events.CardCreated, "cardcore.org-42_x.create-1"},
		{"eu.acme", events.CardUpdated, "cardcore.eu%2Eacme.update-1"},
		{"*", events.CardUpdated, "cardcore.%2A.update-1"},
		{">", events.CardUpdated, "cardcore.%3E.update-1"},
		{"a>b*c", events.CardUpdated, "cardcore.a%3Eb%2Ac.update-1"},
		{"acme corp", events.CardUpdated, "cardcore.acme%20corp.update-1"},
		{"tab\there", events.CardUpdated, "cardcore.tab%09here.update-1"},
		{"line\r\nfeed", events.CardUpdated, "cardcore.line%0D%0Afeed.update-1"},
		{"100%", events.CardUpdated, "cardcore.100%25.update-1"},
		{"%2E", events.CardUpdated, "cardcore.%252E.update-1"},
		{"nbsp\u00a0x", events.CardUpdated, "cardcore.nbsp%C2%A0x.update-1"},
		{"bad\xffutf8", events.CardUpdated, "cardcore.bad%FFutf8.update-1"},
		{"société", events.CardUpdated, "cardcore.société.update-1"},
		{"", events.CardUpdated, "cardcore.%.update-1"},
		{"acme", "*", "cardcore.acme.*"},
		{"acme", ">", "cardcore.acme.>"},
	} {
		got := natsjs.Subject("cardcore", c.org, c.typ)
		if got != c.want {
			t.Errorf("Subject(%q, %q) = %q, want %q", c.org, c.typ, got, c.want)
		}
		if c.typ == "*" || c.typ == ">" {
			continue
		}
		org, typ, err := natsjs.ParseSubject("cardcore", got)
		if err != nil || org != c.org || typ != c.typ {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want %q, %q", got, org, typ, err, c.org, c.typ)
		}
	}
}

func TestParseSubjectRefuses(t *testing.T) {
	for _, s := range []string{
		"other.acme.update-1",
		"cardcore.acme",
		"cardcore.acme.update-1.x",
		"cardcore.a%2.update-1",
		"cardcore.a%zz.update-1",
		"cardcore.acme.update-1%",
	} {
		if org, typ, err := natsjs.ParseSubject("cardcore", s); err == nil {
			t.Errorf("ParseSubject(%q) = %q, %q, nil; want an error", s, org, typ)
		}
	}
	if org, typ, err := natsjs.ParseSubject("prod.cardcore", "prod.cardcore.acme.update-1"); err != nil ||
		org != "acme" || typ != events.CardUpdated {
		t.Errorf("ParseSubject under a dotted prefix = %q, %q, %v", org, typ, err)
	}
}

// FuzzTokenRoundTrip holds the encoding to its promises: a token is one
// valid subject token, and decoding gives the org id back.
func FuzzTokenRoundTrip(f *testing.F) {
	for _, s := range []string{"acme", "", "%", "%25", "a.b", "*", ">", " \t\r\n", "\x00\x7f", "\xff\xfe", "é\u2003"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := natsjs.EncodeToken(s)
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("EncodeToken(%q) = %q is not a subject token", s, tok)
		}
		got, err := natsjs.DecodeToken(tok)
		if err != nil || got != s {
			t.Fatalf("DecodeToken(EncodeToken(%q)) = %q, %v", s, got, err)
		}
	})
}

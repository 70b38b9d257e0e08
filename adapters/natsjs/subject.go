package natsjs

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cardcore/cardcore/events"
)

// Subject is the subject of the events of org of type t under prefix:
// <prefix>.<org>.<t>, each of org and t encoded by EncodeToken. A consumer
// of one org subscribes to Subject(prefix, org, "*"): the wildcard is
// appended after encoding the org, so Subject(prefix, org, "*") and
// Subject(prefix, org, ">") are the filters of one org's events.
func Subject(prefix, org string, t events.Type) string {
	tok := string(t)
	if tok != "*" && tok != ">" {
		tok = EncodeToken(tok)
	}
	return prefix + "." + EncodeToken(org) + "." + tok
}

// ParseSubject is the inverse of Subject: the org and the event type of a
// subject under prefix.
func ParseSubject(prefix, subject string) (org string, t events.Type, err error) {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return "", "", fmt.Errorf("natsjs: subject %q is not under %q", subject, prefix)
	}
	orgTok, typeTok, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(typeTok, ".") {
		return "", "", fmt.Errorf("natsjs: subject %q is not <prefix>.<org_id>.<event_type>", subject)
	}
	if org, err = DecodeToken(orgTok); err != nil {
		return "", "", err
	}
	typ, err := DecodeToken(typeTok)
	if err != nil {
		return "", "", err
	}
	return org, events.Type(typ), nil
}

// EncodeToken makes s one subject token: it percent-encodes (%XX, upper
// case hex) every byte of s that a token cannot hold or that would make
// decoding ambiguous: '.', '*', '>', '%', the bytes of white space and
// control characters, and bytes that are not valid UTF-8. The empty string,
// which is no token, becomes a lone "%", which no other input produces.
// Every other character, non-ASCII letters included, is kept, so "acme"
// stays "acme".
func EncodeToken(s string) string {
	if s == "" {
		return "%"
	}
	if !needsEncoding(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if mustEscape(r, n) {
			for _, c := range []byte(s[i : i+n]) {
				b.WriteByte('%')
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// DecodeToken is the inverse of EncodeToken.
func DecodeToken(tok string) (string, error) {
	if tok == "%" {
		return "", nil
	}
	if !strings.Contains(tok, "%") {
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		if tok[i] != '%' {
			out = append(out, tok[i])
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("natsjs: token %q: %w", tok, errBadEscape)
		}
		hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("natsjs: token %q: %w", tok, errBadEscape)
		}
		out = append(out, byte(hi<<4|lo))
		i += 2
	}
	return string(out), nil
}

var errBadEscape = errors.New("a '%' is not followed by two hex digits")

const hexDigits = "0123456789ABCDEF"

func needsEncoding(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if mustEscape(r, n) {
			return true
		}
		i += n
	}
	return false
}

// mustEscape reports whether the rune r, n bytes long in its string, is
// escaped; an invalid byte decodes as (RuneError, 1).
func mustEscape(r rune, n int) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return true
	case r == '.', r == '*', r == '>', r == '%':
		return true
	}
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// covers reports whether a stream with the subjects filters receives every
// subject matching subject, itself possibly holding wildcards.
func covers(filters []string, subject string) bool {
	for _, f := range filters {
		if subsetOf(subject, f) {
			return true
		}
	}
	return false
}

// subsetOf reports whether every subject matching sub matches filter.
func subsetOf(sub, filter string) bool {
	s, f := strings.Split(sub, "."), strings.Split(filter, ".")
	for i, ft := range f {
		if ft == ">" {
			return len(s) > i
		}
		if i >= len(s) {
			return false
		}
		switch st := s[i]; {
		case ft == "*":
			if st == ">" {
				return false
			}
		case st != ft:
			return false
		}
	}
	return len(s) == len(f)
}

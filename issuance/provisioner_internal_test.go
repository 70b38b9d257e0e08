package issuance

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/card"
)

func TestLuhnCheckDigit(t *testing.T) {
	for _, tc := range []struct{ payload, digit string }{
		{"7992739871", "3"}, // the classic example
		{"411111111111111", "1"},
		{"555555555555444", "4"},
		{"37828224631000", "5"},
		{"000000000000000", "0"},
	} {
		if got := string(luhnCheckDigit([]byte(tc.payload))); got != tc.digit {
			t.Errorf("check digit of %s = %s, want %s", tc.payload, got, tc.digit)
		}
		if !luhnValid(tc.payload + tc.digit) {
			t.Errorf("luhnValid(%s%s) = false", tc.payload, tc.digit)
		}
	}
	for _, bad := range []string{"4111111111111112", "79927398710", "", "4111x11111111111"} {
		if luhnValid(bad) {
			t.Errorf("luhnValid(%q) = true", bad)
		}
	}
}

// luhnValid reports whether s is a number of digits that passes the Luhn
// check, written apart from luhnCheckDigit so each tests the other.
func luhnValid(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[len(s)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// With known random bytes the PAN is known: it is the BIN, the drawn
// digits (bytes of 250 and above skipped) and the Luhn digit; the card gets
// its last four digits and its HMAC, and nothing else of it.
func TestProvisionKnownPAN(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		bin    string
		random []byte
		pan    string
	}{
		{"456789", []byte{1, 2, 250, 3, 4, 255, 5, 6, 7, 8, 19, 29}, ""},
		{"45678912", []byte{9, 8, 7, 6, 5, 4, 3}, ""},
	} {
		digits := ""
		for _, b := range tc.random {
			if b < 250 {
				digits += string('0' + rune(b%10))
			}
		}
		payload := tc.bin + digits[:panLength-1-len(tc.bin)]
		pan := payload + string(luhnCheckDigit([]byte(payload)))
		p := &hmacProvisioner{key: key, random: bytes.NewReader(tc.random)}
		var c card.Card
		prog := card.Program{ID: 3, BIN: tc.bin, Brand: card.Visa}
		if err := p.Provision(context.Background(), &c, prog); err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(pan))
		switch {
		case len(pan) != 16 || !luhnValid(pan) || !strings.HasPrefix(pan, tc.bin):
			t.Errorf("the expected PAN %s is not a Luhn-valid 16-digit PAN of BIN %s", pan, tc.bin)
		case c.Last4 != pan[12:] || c.BIN != tc.bin || c.Brand != card.Visa:
			t.Errorf("card: last4 %s, BIN %s, brand %s; want %s, %s, VISA", c.Last4, c.BIN, c.Brand, pan[12:], tc.bin)
		case c.PANHash != hex.EncodeToString(mac.Sum(nil)):
			t.Errorf("hash %s is not the HMAC-SHA256 of the PAN", c.PANHash)
		case strings.Contains(c.PANHash, pan[:12]):
			t.Errorf("the hash holds the PAN's digits")
		}
	}
}

// Provisioning with crypto/rand gives Luhn-valid PANs of the BIN, each
// different: the hashes differ.
func TestProvisionRandom(t *testing.T) {
	prov, err := NewHMACProvisioner(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h := prov.(*hmacProvisioner)
	seen := map[string]bool{}
	for range 200 {
		pan, err := makePAN(h.random, "999999")
		if err != nil {
			t.Fatal(err)
		}
		if len(pan) != panLength || !luhnValid(string(pan)) || !bytes.HasPrefix(pan, []byte("999999")) {
			t.Fatalf("makePAN made %s", pan)
		}
		var c card.Card
		if err := prov.Provision(context.Background(), &c, card.DefaultProgram); err != nil {
			t.Fatal(err)
		}
		if seen[c.PANHash] || len(c.PANHash) != 64 || len(c.Last4) != 4 {
			t.Fatalf("hash %q (seen before: %v), last4 %q", c.PANHash, seen[c.PANHash], c.Last4)
		}
		seen[c.PANHash] = true
	}
}

func TestNewHMACProvisionerKey(t *testing.T) {
	if _, err := NewHMACProvisioner(make([]byte, 31)); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	key := bytes.Repeat([]byte{3}, 32)
	p, err := NewHMACProvisioner(key)
	if err != nil {
		t.Fatal(err)
	}
	key[0] = 4
	if p.(*hmacProvisioner).key[0] != 3 {
		t.Error("the provisioner shares the caller's key slice")
	}
	var c card.Card
	if err := p.Provision(context.Background(), &c, card.Program{ID: 2, BIN: "12", Brand: card.Visa}); err == nil {
		t.Error("a program with a bad BIN was provisioned")
	}
	if _, err := makePAN(bytes.NewReader(nil), "456789"); err == nil {
		t.Error("makePAN without random bytes succeeded")
	}
}

package issuance

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/cardcore/cardcore/card"
)

// Provisioner is the port that issues a card's PCI data. Provision makes
// a PAN for c under program p and sets c's Brand, BIN, Last4 and PANHash;
// it never returns, stores or logs the clear PAN, which leaves the
// provisioner only towards a card network or vault, if at all. Provision
// runs inside the store transaction that issues the card and may run again
// when the store retries that transaction, so it must be safe to repeat.
// Implementations are safe for concurrent use.
type Provisioner interface {
	Provision(ctx context.Context, c *card.Card, p card.Program) error
}

// MinHMACKeyBytes is the shortest key NewHMACProvisioner accepts: the
// size of the SHA-256 output, as RFC 2104 recommends.
const MinHMACKeyBytes = 32

// panLength is the length of the PANs the built-in provisioner makes.
const panLength = 16

// NewHMACProvisioner returns the built-in Provisioner: it makes a 16-digit
// PAN that passes the Luhn check from the program's BIN and digits drawn
// from crypto/rand, keeps its last four digits and the hex HMAC-SHA256 of
// the PAN under key, and discards the PAN. key must be at least 32 bytes;
// it is copied.
func NewHMACProvisioner(key []byte) (Provisioner, error) {
	if len(key) < MinHMACKeyBytes {
		return nil, fmt.Errorf("issuance: the HMAC key must be at least %d bytes, got %d", MinHMACKeyBytes, len(key))
	}
	return &hmacProvisioner{key: append([]byte(nil), key...), random: rand.Reader}, nil
}

type hmacProvisioner struct {
	key    []byte
	random io.Reader // crypto/rand; tests replace it to know the PAN
}

func (h *hmacProvisioner) Provision(_ context.Context, c *card.Card, p card.Program) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("issuance: program %d: %w", p.ID, err)
	}
	pan, err := makePAN(h.random, p.BIN)
	if err != nil {
		return err
	}
	defer clear(pan)
	mac := hmac.New(sha256.New, h.key)
	mac.Write(pan)
	c.Brand, c.BIN, c.Last4 = p.Brand, p.BIN, string(pan[panLength-4:])
	c.PANHash = hex.EncodeToString(mac.Sum(nil))
	return nil
}

// makePAN returns a PAN of panLength ASCII digits: bin, random digits, and
// the Luhn check digit.
func makePAN(random io.Reader, bin string) ([]byte, error) {
	if len(bin) >= panLength-1 {
		return nil, errors.New("issuance: the BIN leaves no digits for the account number")
	}
	pan := make([]byte, panLength)
	copy(pan, bin)
	var b [1]byte
	for i := len(bin); i < panLength-1; {
		if _, err := io.ReadFull(random, b[:]); err != nil {
			clear(pan)
			return nil, fmt.Errorf("issuance: random digits: %w", err)
		}
		if b[0] >= 250 { // 250 = 25 * 10: keep the digits uniform
			continue
		}
		pan[i] = '0' + b[0]%10
		i++
	}
	pan[panLength-1] = luhnCheckDigit(pan[:panLength-1])
	return pan, nil
}

// luhnCheckDigit returns the digit that, appended to payload, makes the
// number pass the Luhn check (ISO/IEC 7812-1).
func luhnCheckDigit(payload []byte) byte {
	sum := 0
	double := true // the payload's last digit is doubled once the check digit follows it
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

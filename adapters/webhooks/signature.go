package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery (Standard Webhooks).
const (
	HeaderID        = "webhook-id"        // the event_id: the same on every attempt, for de-duplication
	HeaderTimestamp = "webhook-timestamp" // Unix seconds of the attempt
	HeaderSignature = "webhook-signature" // "v1," and the base64 HMAC-SHA256 signature
)

// Tolerance is how far a delivery's timestamp may be from the receiver's
// clock, either way, for Verify to accept it: it bounds replays.
const Tolerance = 5 * time.Minute

// ErrSignature is wrapped by every error of Verify: the delivery is not
// proven to come from the holder of the secret.
var ErrSignature = errors.New("webhooks: signature not verified")

// Sign returns the webhook-signature of a delivery: "v1," and the base64 of
// HMAC-SHA256, keyed with the secret's bytes, of "id.timestamp.body", the
// timestamp in Unix seconds. secret is an endpoint secret ("whsec_" and
// base64; the prefix may be left out, as the Standard Webhooks libraries
// allow).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := signingKey(secret)
	if err != nil {
		return "", err
	}
	return sign(key, id, ts.Unix(), body), nil
}

// Verify checks a delivery as a receiver gets it: its headers and its body,
// exactly as read. It accepts it when the webhook-timestamp is within
// Tolerance of now and one of the space-separated signatures of
// webhook-signature is the v1 signature of the secret. Every refusal wraps
// ErrSignature.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := signingKey(secret)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("%w: missing %s, %s or %s", ErrSignature, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrSignature, HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("%w: %s is more than %s away from now", ErrSignature, HeaderTimestamp, Tolerance)
	}
	want := []byte(sign(key, id, ts, body))
	for sig := range strings.FieldsSeq(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", ErrSignature)
}

func sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// signingKey decodes a secret given to Sign or Verify. Unlike an endpoint's
// own secret, its prefix is optional and its length free, as with the
// other Standard Webhooks libraries.
func signingKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhooks: the secret is not base64 of a key")
	}
	return key, nil
}

package webhooks_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/webhooks"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The key and signature of the Standard Webhooks specification's own test
// vector (its libraries' tests use the same).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationVector(t *testing.T) {
	got, err := webhooks.Sign(vectorSecret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}
}

// TestSignInteroperates holds Sign and Verify against the Go library of
// the Standard Webhooks project, which this package did not write.
func TestSignInteroperates(t *testing.T) {
	secret := webhooks.NewSecret()
	lib, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := []byte(`{"event_id":"e1","seq":7}`)

	t.Run("theirs verifies ours", func(t *testing.T) {
		sig, err := webhooks.Sign(secret, "e1", now, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := lib.Verify(body, headers("e1", now, sig)); err != nil {
			t.Fatalf("standard-webhooks Verify: %v", err)
		}
	})
	t.Run("ours verifies theirs", func(t *testing.T) {
		sig, err := lib.Sign("e1", now, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := webhooks.Verify(secret, headers("e1", now, sig), body, now); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

func TestVerifyRefuses(t *testing.T) {
	secret := webhooks.NewSecret()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event_id":"e1"}`)
	good, err := webhooks.Sign(secret, "e1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := webhooks.Sign(webhooks.NewSecret(), "e1", now, body)
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		ok     bool
	}{
		{"a good delivery", secret, headers("e1", now, good), string(body), now, true},
		{"within tolerance, late", secret, headers("e1", now, good), string(body), now.Add(webhooks.Tolerance), true},
		{"within tolerance, early", secret, headers("e1", now, good), string(body), now.Add(-webhooks.Tolerance), true},
		{"one of several signatures", secret, headers("e1", now, other+" "+good), string(body), now, true},
		{"another secret", webhooks.NewSecret(), headers("e1", now, good), string(body), now, false},
		{"a changed body", secret, headers("e1", now, good), `{"event_id":"e2"}`, now, false},
		{"a changed id", secret, headers("e2", now, good), string(body), now, false},
		{"a changed timestamp", secret, headers("e1", now.Add(time.Second), good), string(body), now, false},
		{"too old", secret, headers("e1", now, good), string(body), now.Add(webhooks.Tolerance + time.Second), false},
		{"too new", secret, headers("e1", now, good), string(body), now.Add(-webhooks.Tolerance - time.Second), false},
		{"no signature", secret, headers("e1", now, ""), string(body), now, false},
		{"no id", secret, headers("", now, good), string(body), now, false},
		{"a timestamp that is no number", secret, http.Header{"Webhook-Id": {"e1"}, "Webhook-Timestamp": {"soon"}, "Webhook-Signature": {good}}, string(body), now, false},
		{"a signature of another version", secret, headers("e1", now, "v1a"+good[2:]), string(body), now, false},
		{"a secret that is no base64", "whsec_!!!", headers("e1", now, good), string(body), now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhooks.Verify(tt.secret, tt.h, []byte(tt.body), tt.now)
			if tt.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.ok && !errors.Is(err, webhooks.ErrSignature) {
				t.Fatalf("Verify = %v, want ErrSignature", err)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorSecret, vectorID, strconv.Itoa(vectorTimestamp), vectorSignature, vectorBody)
	f.Add("whsec_", "", "-1", "v1,", "")
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id", "99999999999999999999", "v1,a v1,b  v2,c", "{}")
	now := time.Unix(vectorTimestamp, 0)
	f.Fuzz(func(t *testing.T, secret, id, ts, sig, body string) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		err := webhooks.Verify(secret, h, []byte(body), now)
		if err != nil && !errors.Is(err, webhooks.ErrSignature) {
			t.Fatalf("Verify = %v, not an ErrSignature", err)
		}
		if id == "" || ts != strconv.Itoa(vectorTimestamp) {
			return
		}
		good, err := webhooks.Sign(secret, id, now, []byte(body))
		if err != nil {
			return
		}
		h.Set("webhook-signature", good)
		if err := webhooks.Verify(secret, h, []byte(body), now); err != nil {
			t.Fatalf("Verify refuses Sign's own signature: %v", err)
		}
	})
}

func headers(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set("webhook-id", id)
	}
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	if sig != "" {
		h.Set("webhook-signature", sig)
	}
	return h
}

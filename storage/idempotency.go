package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/cardcore/cardcore/card"
)

// MaxIdempotencyKeyLength bounds the callers' idempotency keys.
const MaxIdempotencyKeyLength = 36

// Idempotent is a request that a caller's key makes replayable: the one
// mechanism of every keyed use case. Inside the use case's transaction,
// Replay either hands back the first result of the key (and the use case
// writes nothing) or claims the key; the use case then does its work and
// calls Remember in the same transaction, so the key and the change commit
// together or not at all. The zero Idempotent has no key: Replay claims
// nothing and Remember stores nothing.
type Idempotent struct {
	key         IdempotencyKey
	fingerprint string
}

// NewIdempotent binds key, scoped to org and scope (the operation and what
// it applies to, e.g. "create_card:account=42"), to req: the same key with
// another request is a conflict. An empty key gives the zero Idempotent. A
// key longer than MaxIdempotencyKeyLength or with characters that are not
// printable is invalid (field idempotency_key).
func NewIdempotent(org, scope, key string, req any) (Idempotent, error) {
	if key == "" {
		return Idempotent{}, nil
	}
	if len(key) > MaxIdempotencyKeyLength || card.ValidateRef("idempotency_key", key) != nil {
		return Idempotent{}, card.Invalid("idempotency_key", "must be at most 36 printable characters")
	}
	b, err := json.Marshal(req)
	if err != nil {
		return Idempotent{}, err
	}
	sum := sha256.Sum256(b)
	return Idempotent{IdempotencyKey{OrgID: org, Scope: scope, Key: key}, hex.EncodeToString(sum[:])}, nil
}

// Keyed reports whether the request has a key.
func (i Idempotent) Keyed() bool { return i.key.Key != "" }

// Replay claims the key inside tx. When the key is new, or there is none,
// it returns false and the use case goes on. When the key was used for the
// same request it decodes the first result into result and returns true.
// The key used for another request, or by a request still in flight, is a
// *card.ConflictError; the use case may check its own request before it
// reports that, as a 400 comes before a 409.
func (i Idempotent) Replay(ctx context.Context, tx Idempotency, result any) (replayed bool, err error) {
	if !i.Keyed() {
		return false, nil
	}
	rec, claimed, err := tx.Claim(ctx, i.key, i.fingerprint)
	if err != nil || claimed {
		return false, err
	}
	if rec.Fingerprint != i.fingerprint {
		return false, &card.ConflictError{Operation: "idempotency_key",
			Reason: "the key " + i.key.Key + " was used for a different request"}
	}
	if rec.Result == nil {
		return false, &card.ConflictError{Operation: "idempotency_key",
			Reason: "a request with the key " + i.key.Key + " is still in flight"}
	}
	return true, json.Unmarshal(rec.Result, result)
}

// Remember stores result under the key Replay claimed, in the same
// transaction; without a key it does nothing.
func (i Idempotent) Remember(ctx context.Context, tx Idempotency, result any) error {
	if !i.Keyed() {
		return nil
	}
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	return tx.Complete(ctx, i.key, b)
}

package storagetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
)

// The keys of replayable requests (storage.Idempotency), and
// storage.Idempotent over them. Claims of one key by two transactions at
// once are checks of concurrency.go.
var idempotencyChecks = []check{
	{"ClaimCompleteReplay", claimCompleteReplay},
	{"ClaimScopedByOrgScopeAndKey", claimScopedByOrgScopeAndKey},
	{"ClaimInFlightHasNoResult", claimInFlightHasNoResult},
	{"ClaimRolledBackLeavesNothing", claimRolledBackLeavesNothing},
	{"IdempotentReplaysTheFirstResult", idempotentReplaysTheFirstResult},
}

// claimKey is the idempotency key of the Claim checks.
var claimKey = storage.IdempotencyKey{OrgID: orgA, Scope: "reissue:card=42", Key: "0b7e1b3c-5f52-4a4e-9d43-0a4f0c1f9a11"}

// claimResult is the result stored for claimKey: JSON as an API answers
// it, kept byte for byte (a replay answers with the very same body).
var claimResult = []byte(`{"status":"NORMAL", "id":7,"name":"Travel"}`)

// probe claims key in a transaction that it rolls back, so it leaves
// nothing, and returns what Claim returned.
func probe(t *testing.T, s storage.Store, key storage.IdempotencyKey, fingerprint string) (storage.IdempotencyRecord, bool) {
	t.Helper()
	var rec storage.IdempotencyRecord
	var claimed bool
	rolledBack(t, s, func(ctx context.Context, tx storage.Tx) error {
		var err error
		rec, claimed, err = tx.Claim(ctx, key, fingerprint)
		return err
	})
	return rec, claimed
}

// claimAndComplete claims key and stores result in one transaction, and
// fails the test unless the key was new.
func claimAndComplete(t *testing.T, s storage.Store, key storage.IdempotencyKey, fingerprint string, result []byte) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		_, claimed, err := tx.Claim(ctx, key, fingerprint)
		if err != nil {
			return err
		}
		if !claimed {
			return errors.New("claim of a new key returned claimed = false")
		}
		return tx.Complete(ctx, key, result)
	})
}

// checkReplay checks that a Claim returned the stored record of claimKey.
func checkReplay(t *testing.T, what string, rec storage.IdempotencyRecord, claimed bool, fingerprint string, result []byte) {
	t.Helper()
	if claimed {
		t.Errorf("%s: claimed = true for a key already claimed", what)
		return
	}
	if rec.Fingerprint != fingerprint {
		t.Errorf("%s: Fingerprint %q, want the first request's %q", what, rec.Fingerprint, fingerprint)
	}
	if !bytes.Equal(rec.Result, result) {
		t.Errorf("%s: Result %q, want %q", what, rec.Result, result)
	}
	if rec.CreatedAt.IsZero() {
		t.Errorf("%s: CreatedAt is not set", what)
	}
}

func claimCompleteReplay(t *testing.T, s storage.Store) {
	claimAndComplete(t, s, claimKey, "fingerprint-1", claimResult)
	rec, claimed := probe(t, s, claimKey, "fingerprint-1")
	checkReplay(t, "Claim of a completed key", rec, claimed, "fingerprint-1", claimResult)
	rec, claimed = probe(t, s, claimKey, "fingerprint-2")
	checkReplay(t, "Claim of a completed key with another fingerprint", rec, claimed, "fingerprint-1", claimResult)
}

func claimScopedByOrgScopeAndKey(t *testing.T, s storage.Store) {
	claimAndComplete(t, s, claimKey, "fingerprint-1", claimResult)
	otherOrg, otherScope, otherKey := claimKey, claimKey, claimKey
	otherOrg.OrgID = orgB
	otherScope.Scope = "reissue:card=43"
	otherKey.Key = "another key"
	for _, tc := range []struct {
		what string
		key  storage.IdempotencyKey
	}{
		{"another org", otherOrg},
		{"another scope", otherScope},
		{"another key", otherKey},
	} {
		if _, claimed := probe(t, s, tc.key, "fingerprint-1"); !claimed {
			t.Errorf("Claim of the key in %s returned claimed = false, want a new key", tc.what)
		}
	}
}

// A claim committed without Complete is a request in flight: its record
// has no result yet.
func claimInFlightHasNoResult(t *testing.T, s storage.Store) {
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		_, _, err := tx.Claim(ctx, claimKey, "fingerprint-1")
		return err
	})
	rec, claimed := probe(t, s, claimKey, "fingerprint-1")
	checkReplay(t, "Claim of a key in flight", rec, claimed, "fingerprint-1", nil)
	if rec.Result != nil {
		t.Errorf("Claim of a key in flight: Result %q, want nil", rec.Result)
	}
}

func claimRolledBackLeavesNothing(t *testing.T, s storage.Store) {
	rolledBack(t, s, func(ctx context.Context, tx storage.Tx) error {
		if _, _, err := tx.Claim(ctx, claimKey, "fingerprint-1"); err != nil {
			return err
		}
		return tx.Complete(ctx, claimKey, claimResult)
	})
	if _, claimed := probe(t, s, claimKey, "fingerprint-2"); !claimed {
		t.Errorf("Claim after a rolled-back Claim returned claimed = false, want a new key")
	}
}

// replay is a keyed request through storage.Idempotent in a transaction of
// its own: it replays the key's first result, or stores result as the
// key's. It returns what the caller gets and whether it was a replay.
func replay(t *testing.T, s storage.Store, key string, req, result any) (got map[string]any, replayed bool, err error) {
	t.Helper()
	i, err := storage.NewIdempotent(orgA, "create_card:account=1001", key, req)
	if err != nil {
		t.Fatalf("NewIdempotent: %v", err)
	}
	err = s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		got = nil
		if replayed, err = i.Replay(ctx, tx, &got); err != nil || replayed {
			return err
		}
		return i.Remember(ctx, tx, result)
	})
	return got, replayed, err
}

// The one idempotency mechanism of the use cases works on the store: the
// first request stores its result, the same request again gets it back,
// another request with the key is a conflict, and another key is new.
func idempotentReplaysTheFirstResult(t *testing.T, s storage.Store) {
	req := map[string]any{"name": "Travel", "type": "VIRTUAL"}
	first := map[string]any{"id": 7.0, "status": "NORMAL"}
	if _, replayed, err := replay(t, s, "key-1", req, first); err != nil || replayed {
		t.Fatalf("the first request: replayed = %v, %v; want a new key", replayed, err)
	}
	got, replayed, err := replay(t, s, "key-1", req, map[string]any{"id": 8.0})
	if err != nil || !replayed || !reflect.DeepEqual(got, first) {
		t.Errorf("the same request again: %v, replayed = %v, %v; want the first result %v replayed", got, replayed, err, first)
	}
	_, _, err = replay(t, s, "key-1", map[string]any{"name": "Gym"}, first)
	checkErr(t, "another request with the key", err, card.ErrConflict)
	if _, replayed, err := replay(t, s, "key-2", req, first); err != nil || replayed {
		t.Errorf("the request with another key: replayed = %v, %v; want a new key", replayed, err)
	}
}

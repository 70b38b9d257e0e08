package storagetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cardcore/cardcore/storage"
)

var claimChecks = []check{
	{"ClaimCompleteReplay", claimCompleteReplay},
	{"ScopedByOrgScopeAndKey", claimScopedByOrgScopeAndKey},
	{"InFlightHasNoResult", claimInFlightHasNoResult},
	{"RolledBackClaimLeavesNothing", claimRolledBackLeavesNothing},
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
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		var err error
		rec, claimed, err = tx.Claim(ctx, key, fingerprint)
		if err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Claim(%+v): %v", key, err)
	}
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
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		if _, _, err := tx.Claim(ctx, claimKey, "fingerprint-1"); err != nil {
			return err
		}
		if err := tx.Complete(ctx, claimKey, claimResult); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update: got %v, want %v", err, errRollback)
	}
	if _, claimed := probe(t, s, claimKey, "fingerprint-2"); !claimed {
		t.Errorf("Claim after a rolled-back Claim returned claimed = false, want a new key")
	}
}

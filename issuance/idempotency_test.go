package issuance_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/issuance"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// The same key replays the first card and writes nothing; with another
// type it is a conflict; keys are scoped to the account and the org.
func TestCreateIdempotent(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		key := uuid.NewString()
		first := mustCreate(t, e, card.Virtual, key)
		if _, err := e.issue(t.Context(), org, first.Token); err != nil {
			t.Fatal(err)
		}
		again := mustCreate(t, e, card.Virtual, key)
		if again.ID != first.ID || again.Token != first.Token || again.Status != card.Pending || again.Version != 1 {
			t.Errorf("replay: card %d %s %s v%d, want the first result, card %d PENDING v1", again.ID, again.Token, again.Status, again.Version, first.ID)
		}
		_, err := e.svc.Create(t.Context(), org, account, card.Temporary, key)
		if !errors.Is(err, card.ErrConflict) {
			t.Errorf("the key with another type: %v, want a conflict", err)
		}
		other, err := e.svc.Create(t.Context(), org, uuid.NewString(), card.Virtual, key)
		if err != nil || other.ID == first.ID {
			t.Errorf("the key for another account: card %d, %v; want a new card", other.ID, err)
		}
		otherOrg, err := e.svc.Create(t.Context(), "org-2", account, card.Virtual, key)
		if err != nil || otherOrg.ID == first.ID {
			t.Errorf("the key in another org: card %d, %v; want a new card", otherOrg.ID, err)
		}
		if evs, _ := cardEvents(t, e); len(evs) != 3 {
			t.Errorf("%d events in the org, want create-1 and update-1 of the first card, create-1 of the other account's", len(evs))
		}
	})
}

// isConflict reports whether err is a *card.ConflictError of operation op.
func isConflict(err error, op string) bool {
	var ce *card.ConflictError
	return errors.As(err, &ce) && errors.Is(err, card.ErrConflict) && ce.Operation == op
}

// A settlement's key replays the first result and writes nothing; with
// another request it is a conflict; keys are scoped to the operation, the
// card and the org.
func TestSettleIdempotent(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := mustCreate(t, e, card.Virtual, "")
		req := issuance.Settlement{OrgID: org, Token: c.Token, IdempotencyKey: uuid.NewString(), Request: []byte(`{}`)}
		first, err := e.svc.Issue(t.Context(), req)
		if err != nil || first.Status != card.Normal || first.Version != 2 {
			t.Fatalf("first issue: %s v%d, %v", first.Status, first.Version, err)
		}
		upper := req
		upper.Token = strings.ToUpper(c.Token)
		for _, r := range []issuance.Settlement{req, upper} {
			again, err := e.svc.Issue(t.Context(), r)
			if err != nil || again.ID != first.ID || again.Status != card.Normal || again.Version != 2 || again.PANHash != first.PANHash {
				t.Errorf("replay of %s: card %d %s v%d, %v; want the first result", r.Token, again.ID, again.Status, again.Version, err)
			}
		}
		other := req
		other.Request = []byte(`{"reason": "again"}`)
		if _, err := e.svc.Issue(t.Context(), other); !isConflict(err, "idempotency_key") {
			t.Errorf("the key with another request: %v, want a conflict of the key", err)
		}
		// Fail is another operation: the key is new there, and the card is
		// no longer PENDING.
		if _, err := e.svc.Fail(t.Context(), req); !isConflict(err, card.Issuance.String()) {
			t.Errorf("fail with the key of the issue: %v, want a conflict of issuance", err)
		}
		c2 := mustCreate(t, e, card.Temporary, "")
		onC2 := req
		onC2.Token = c2.Token
		if got, err := e.svc.Fail(t.Context(), onC2); err != nil || got.ID != c2.ID || got.Status != card.Canceled {
			t.Errorf("the key on another card: card %d %s, %v; want card %d CANCELED", got.ID, got.Status, err, c2.ID)
		}
		otherOrg := req
		otherOrg.OrgID = "org-2"
		if _, err := e.svc.Issue(t.Context(), otherOrg); !errors.Is(err, card.ErrNotFound) {
			t.Errorf("the key in another org: %v, want the card not found", err)
		}
		tooLong := req
		tooLong.IdempotencyKey = strings.Repeat("k", 37)
		if _, err := e.svc.Issue(t.Context(), tooLong); !errors.Is(err, card.ErrInvalid) {
			t.Errorf("a 37-character key: %v, want invalid input", err)
		}
		if evs, _ := cardEvents(t, e); len(evs) != 4 {
			t.Errorf("%d events, want create-1 and update-1 of each card", len(evs))
		}
	})
}

// flakyProvisioner is the built-in provisioner behind a network that is
// down while down is set.
type flakyProvisioner struct {
	issuance.Provisioner
	down atomic.Bool
}

func (p *flakyProvisioner) Provision(ctx context.Context, c *card.Card, prog card.Program) error {
	if p.down.Load() {
		return errNoNetwork
	}
	return p.Provisioner.Provision(ctx, c, prog)
}

// The key commits with the change or not at all: a settlement that fails
// (the provisioner is down) or is refused (the card is not PENDING) keeps
// no key, so the key with another request is not taken for a reuse.
func TestSettleKeyCommitsWithTheChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		hmac, err := issuance.NewHMACProvisioner([]byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		p := &flakyProvisioner{Provisioner: hmac}
		e := newEnv(t, db, p)
		c := mustCreate(t, e, card.Virtual, "")
		req := issuance.Settlement{OrgID: org, Token: c.Token, IdempotencyKey: uuid.NewString(), Request: []byte("first")}
		p.down.Store(true)
		if _, err := e.svc.Issue(t.Context(), req); !errors.Is(err, errNoNetwork) {
			t.Fatalf("issue while the network is down: %v", err)
		}
		p.down.Store(false)
		second := req
		second.Request = []byte("second")
		got, err := e.svc.Issue(t.Context(), second)
		if err != nil || got.Status != card.Normal {
			t.Fatalf("the key again with another request after the failure: %s, %v; want the card issued", got.Status, err)
		}
		if _, err := e.svc.Issue(t.Context(), req); !isConflict(err, "idempotency_key") {
			t.Errorf("the first request after the key committed with the change: %v, want a conflict of the key", err)
		}

		refused := issuance.Settlement{OrgID: org, Token: c.Token, IdempotencyKey: uuid.NewString(), Request: []byte("a")}
		for _, body := range []string{"a", "b"} {
			refused.Request = []byte(body)
			if _, err := e.svc.Fail(t.Context(), refused); !isConflict(err, card.Issuance.String()) {
				t.Errorf("fail of the issued card with request %q: %v, want a conflict of issuance, not of the key", body, err)
			}
		}
		if evs, _ := cardEvents(t, e); len(evs) != 2 {
			t.Errorf("%d events, want the create-1 and one update-1", len(evs))
		}
	})
}

// Concurrent settlements with one key and request change the card once;
// every one of them answers the same card.
func TestSettleConcurrentReplays(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := mustCreate(t, e, card.Virtual, "")
		req := issuance.Settlement{OrgID: org, Token: c.Token, IdempotencyKey: uuid.NewString(), Request: []byte(`{}`)}
		const n = 8
		got := make([]card.Card, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = e.svc.Issue(t.Context(), req) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || got[i].Version != 2 || got[i].PANHash != got[0].PANHash {
				t.Errorf("issue %d: v%d %s, %v; want the one issued card", i, got[i].Version, got[i].PANHash, errs[i])
			}
		}
		if evs, _ := cardEvents(t, e); len(evs) != 2 {
			t.Errorf("%d events, want the create-1 and one update-1", len(evs))
		}
	})
}

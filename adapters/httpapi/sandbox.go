package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// sandboxCard is a card as the sandbox routes (SPEC section 9) answer
// with it: its token is its id. PCI data (brand, last four digits) appears
// once the card is issued.
type sandboxCard struct {
	ID             string `json:"id"`
	AccountID      string `json:"accountId,omitempty"`
	Type           string `json:"type"`
	Status         string `json:"status"`
	Brand          string `json:"brand,omitempty"`
	Last4          string `json:"last4,omitempty"`
	ExpirationDate string `json:"expirationDate,omitempty"` // YYYY-MM
	CreatedAt      string `json:"createdAt"`
	UpdatedAt      string `json:"updatedAt"`
}

func sandboxCardOf(c *card.Card) sandboxCard {
	b := sandboxCard{ID: c.Token, AccountID: c.AccountID, Type: c.Type.String(), Status: c.Status.String(),
		Last4: c.Last4, CreatedAt: timestamp(c.CreatedAt), UpdatedAt: timestamp(c.UpdatedAt)}
	if !c.Brand.IsZero() {
		b.Brand = c.Brand.String()
	}
	if !c.ExpirationDate.IsZero() {
		b.ExpirationDate = c.ExpirationDate.UTC().Format("2006-01")
	}
	return b
}

// pathUUID reads a UUID path id in canonical (lower-case) form.
func pathUUID(r *http.Request, name string) (string, error) {
	s := r.PathValue(name)
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", invalid(name, name+" must be a UUID")
	}
	return u.String(), nil
}

// signed checks a sandbox request up to its body's content, in the order
// of SPEC 8–9.1: the path id (400), the server token (403), the body's
// size (413), on POST and PATCH the Idempotency-Key header (400), then the
// signature (401). It returns the path id, the key (canonical, "" on GET)
// and the body.
func (a *api) signed(w http.ResponseWriter, r *http.Request, who principal, param string) (id, key string, body []byte, err error) {
	if id, err = pathUUID(r, param); err != nil {
		return "", "", nil, err
	}
	if err := who.requireServer(); err != nil {
		return "", "", nil, err
	}
	if body, err = readBody(w, r); err != nil {
		return "", "", nil, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		k := r.Header.Get("Idempotency-Key")
		u, err := uuid.Parse(k)
		switch {
		case k == "":
			return "", "", nil, invalid("Idempotency-Key", "the Idempotency-Key header (a UUID) is required")
		case err != nil || len(k) != 36:
			return "", "", nil, invalid("Idempotency-Key", "the Idempotency-Key header must be a UUID")
		}
		key = u.String()
	}
	if err := a.sig.verify(r, body); err != nil {
		return "", "", nil, err
	}
	return id, key, body, nil
}

// createSandboxCard is POST /accounts/{accountId}/cards: a VIRTUAL or
// TEMPORARY card whose issuance is pending. The library keeps the
// idempotency key with the card it made, so a replay answers 201 with the
// card as it was then.
func (a *api) createSandboxCard(w http.ResponseWriter, r *http.Request, who principal) error {
	account, key, body, err := a.signed(w, r, who, "accountId")
	if err != nil {
		return err
	}
	var in struct {
		Type *string `json:"type"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	if in.Type == nil {
		return invalid("type", "type is required: VIRTUAL or TEMPORARY")
	}
	typ, err := enum("type", in.Type, card.ParseType)
	if err != nil {
		return err
	}
	c, err := a.cfg.Issuance.Create(r.Context(), who.org, account, typ, key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sandboxCardOf(&c))
	return nil
}

func (a *api) issueSandboxCard(w http.ResponseWriter, r *http.Request, who principal) error {
	return a.settleSandboxCard(w, r, who, "issue", a.cfg.Issuance.Issue)
}

func (a *api) failSandboxCard(w http.ResponseWriter, r *http.Request, who principal) error {
	return a.settleSandboxCard(w, r, who, "fail", a.cfg.Issuance.Fail)
}

// settleSandboxCard is PATCH /simulator/cards/{cardId}/issue or /fail:
// 202 with no body once the card is NORMAL (issued) or CANCELED (failed).
//
// The library takes no idempotency key here, so the adapter keeps the
// answer in the store's idempotency records, scoped to the org, the
// operation and the card and bound to the body: a replay answers 202
// again, the same key with another body is a conflict. The record is
// written after the change commits, in a transaction of its own.
func (a *api) settleSandboxCard(w http.ResponseWriter, r *http.Request, who principal, op string,
	settle func(ctx context.Context, org, token string) (card.Card, error)) error {
	token, key, body, err := a.signed(w, r, who, "cardId")
	if err != nil {
		return err
	}
	ik, fp, err := lifecycle.IdempotencyFor(who.org, "sandbox_"+op+"_card:card="+token, key, patchRequest{Body: body})
	if err != nil {
		return err
	}
	status, replay, err := a.recorded(r.Context(), ik, fp)
	if err != nil {
		return err
	}
	if replay {
		w.WriteHeader(status)
		return nil
	}
	if _, err := settle(r.Context(), who.org, token); err != nil {
		return err
	}
	if err := a.record(r.Context(), ik, fp, http.StatusAccepted); err != nil {
		// The card changed and its events committed: the answer is still
		// 202. Without the record, a replay of this request is a conflict.
		a.log.ErrorContext(r.Context(), "httpapi: the idempotency record of a sandbox request was not kept",
			"route", r.Pattern, "error", err.Error())
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// getSandboxCard is GET /cards/{cardId}: a card of the org by its token.
func (a *api) getSandboxCard(w http.ResponseWriter, r *http.Request, who principal) error {
	token, _, _, err := a.signed(w, r, who, "cardId")
	if err != nil {
		return err
	}
	c, err := a.cfg.Issuance.Get(r.Context(), who.org, token)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sandboxCardOf(&c))
	return nil
}

// patchRequest is what the idempotency key of a PATCH is bound to: its
// body (the path's card is in the key's scope).
type patchRequest struct {
	Body []byte `json:"body"`
}

// recordedAnswer is what an idempotency record of a PATCH keeps.
type recordedAnswer struct {
	Status int `json:"status"`
}

// errNewKey rolls back the transaction of a lookup that claimed a key no
// request has used, so that the claim is not kept.
var errNewKey = errors.New("httpapi: a new idempotency key")

// recorded returns the answer recorded for key, if any. The same key with
// another request is a conflict. It looks the key up by claiming it and
// rolling the claim back: the store has no other read of the records.
func (a *api) recorded(ctx context.Context, key storage.IdempotencyKey, fp string) (status int, found bool, err error) {
	var result []byte
	err = a.cfg.Store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		res, done, err := lifecycle.Replay(ctx, tx, key, fp)
		if err != nil {
			return err
		}
		if !done {
			return errNewKey
		}
		result = res
		return nil
	})
	switch {
	case errors.Is(err, errNewKey):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	var rec recordedAnswer
	if err := json.Unmarshal(result, &rec); err != nil || rec.Status == 0 {
		return 0, false, errors.New("httpapi: an idempotency record that is not a sandbox answer")
	}
	return rec.Status, true, nil
}

// record keeps the answer of a request under its key. A key another
// request recorded meanwhile is left as it is.
func (a *api) record(ctx context.Context, key storage.IdempotencyKey, fp string, status int) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return a.cfg.Store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		_, claimed, err := tx.Claim(ctx, key, fp)
		if err != nil || !claimed {
			return err
		}
		return lifecycle.Remember(ctx, tx, key, recordedAnswer{Status: status})
	})
}

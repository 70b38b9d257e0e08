package httpapi

import (
	"context"
	"net/http"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/issuance"
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
	typ, err := requiredEnum("type", "type is required: VIRTUAL or TEMPORARY", in.Type, card.ParseType)
	if err != nil {
		return err
	}
	c, err := a.core.Issuance.Create(r.Context(), who.org, account, typ, key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sandboxCardOf(&c))
	return nil
}

func (a *api) issueSandboxCard(w http.ResponseWriter, r *http.Request, who principal) error {
	return a.settleSandboxCard(w, r, who, a.core.Issuance.Issue)
}

func (a *api) failSandboxCard(w http.ResponseWriter, r *http.Request, who principal) error {
	return a.settleSandboxCard(w, r, who, a.core.Issuance.Fail)
}

// settleSandboxCard is PATCH /simulator/cards/{cardId}/issue or /fail:
// 202 with no body once the card is NORMAL (issued) or CANCELED (failed).
// The library keeps the Idempotency-Key with the change, bound to the
// body: a replay answers 202 again, the same key with another body is a
// conflict.
func (a *api) settleSandboxCard(w http.ResponseWriter, r *http.Request, who principal,
	settle func(ctx context.Context, s issuance.Settlement) (card.Card, error)) error {
	token, key, body, err := a.signed(w, r, who, "cardId")
	if err != nil {
		return err
	}
	if _, err := settle(r.Context(), issuance.Settlement{OrgID: who.org, Token: token, IdempotencyKey: key, Request: body}); err != nil {
		return err
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
	c, err := a.core.Issuance.Get(r.Context(), who.org, token)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sandboxCardOf(&c))
	return nil
}

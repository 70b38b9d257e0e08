package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/lifecycle"
)

// The /wallet/v2/cards/{cardId} routes of SPEC 12: PIN tries, card
// information and numbering.

// increasePINTries counts a wrong PIN: a server token (the authorizer),
// no body.
func (a *api) increasePINTries(w http.ResponseWriter, r *http.Request, who principal) error {
	id, err := serverCard(w, r, who)
	if err != nil {
		return err
	}
	c, err := a.core.Cards.IncreasePINTries(r.Context(), who.org, id)
	return answerCard(w, http.StatusOK, c, err)
}

// resetPINTries sets the count of wrong PINs to 0: a server token (the back
// office: a cardholder does not unblock its own card), no body.
func (a *api) resetPINTries(w http.ResponseWriter, r *http.Request, who principal) error {
	id, err := serverCard(w, r, who)
	if err != nil {
		return err
	}
	c, err := a.core.Cards.ResetPINTries(r.Context(), who.org, id)
	return answerCard(w, http.StatusOK, c, err)
}

// serverCard checks a v2 card route for servers up to its body: the path id
// (400), the server token (403), the body's size (413).
func serverCard(w http.ResponseWriter, r *http.Request, who principal) (int64, error) {
	id, err := pathCardID(r)
	if err != nil {
		return 0, err
	}
	_, err = serverBody(w, r, who)
	return id, err
}

// updateCardInfo is the body of PATCH /wallet/v2/cards/{cardId}: the
// fields to change; absent and null fields are left as they are.
type updateCardInfo struct {
	Name                 *string         `json:"name"`
	PrintedName          *string         `json:"printed_name"`
	EmbossingCustomField *string         `json:"embossing_custom_field"`
	ContactlessEnabled   *bool           `json:"contactless_enabled"`
	TransactionLimit     *string         `json:"transaction_limit"`
	Metadata             json.RawMessage `json:"metadata"`
}

// updateInfo changes a card's information: a server token on any card of
// its org, an account token on its account's cards only (another card is
// not found, SPEC 11).
func (a *api) updateInfo(w http.ResponseWriter, r *http.Request, who principal) error {
	id, err := pathCardID(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in updateCardInfo
	if err := decode(body, &in); err != nil {
		return err
	}
	u := lifecycle.InfoUpdate{Name: in.Name, PrintedName: in.PrintedName, EmbossingCustomField: in.EmbossingCustomField,
		ContactlessEnabled: in.ContactlessEnabled, TransactionLimit: in.TransactionLimit, Metadata: rawObject(in.Metadata)}
	if err := u.Check(); err != nil {
		return err
	}
	if !who.server {
		// An account never changes once set, so the card read here is the
		// one the use case changes.
		c, err := a.core.Cards.Get(r.Context(), who.org, id)
		if errors.Is(err, card.ErrNotFound) || (err == nil && c.AccountID != who.account) {
			return errNoCard(id)
		}
		if err != nil {
			return err
		}
	}
	c, err := a.core.Cards.UpdateInfo(r.Context(), who.org, id, u)
	if errors.Is(err, card.ErrNotFound) {
		return errNoCard(id)
	}
	return answerCard(w, http.StatusOK, c, err)
}

// numberCard is the body of PUT /wallet/v2/cards/{cardId}/number: what
// the issuer keeps of the PAN it made. A clear PAN is refused, never read.
type numberCard struct {
	Last4      string          `json:"last_4_digits"`
	PANHash    string          `json:"pan_hash"`
	BIN        string          `json:"bin"`
	Brand      *string         `json:"brand"`
	PAN        json.RawMessage `json:"pan"`
	CardNumber json.RawMessage `json:"card_number"`
}

// number gives an UNNUMBERED card its PAN data: a server token.
func (a *api) number(w http.ResponseWriter, r *http.Request, who principal) error {
	id, err := pathCardID(r)
	if err != nil {
		return err
	}
	body, err := serverBody(w, r, who)
	if err != nil {
		return err
	}
	var in numberCard
	if err := decode(body, &in); err != nil {
		return err
	}
	for field, v := range map[string]json.RawMessage{"pan": in.PAN, "card_number": in.CardNumber} {
		if len(v) > 0 && !bytes.Equal(v, []byte("null")) {
			return invalid(field, field+": the clear PAN is never taken; send last_4_digits and pan_hash")
		}
	}
	brand, err := enum("brand", in.Brand, card.ParseBrand)
	if err != nil {
		return err
	}
	c, err := a.core.Cards.Number(r.Context(), who.org, id, lifecycle.Numbering{Last4: in.Last4, PANHash: in.PANHash, BIN: in.BIN, Brand: brand})
	return answerCard(w, http.StatusOK, c, err)
}

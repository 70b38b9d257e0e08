package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
)

// createCardBody is the body of POST /wallet/v2/cards: the card fields of
// SPEC section 1.
type createCardBody struct {
	Type                     *string         `json:"type"`
	Status                   *string         `json:"status"` // only UNNUMBERED (SPEC 12)
	Name                     string          `json:"name"`
	PrintedName              string          `json:"printed_name"`
	Mode                     *string         `json:"mode"`
	ProgramID                int64           `json:"program_id"`
	ExpirationDate           string          `json:"expiration_date"`
	ValidityPeriodHours      int             `json:"validity_period_hours"`
	Metadata                 json.RawMessage `json:"metadata"`
	EmbossingCustomField     string          `json:"embossing_custom_field"`
	EmbossingGroup           string          `json:"embossing_group"`
	PINLength                int             `json:"pin_length"`
	ContactlessEnabled       *bool           `json:"contactless_enabled"`
	TransactionLimit         string          `json:"transaction_limit"`
	TemplateID               string          `json:"template_id"`
	CVVRotationIntervalHours *int            `json:"cvv_rotation_interval_hours"`
}

// enum parses an optional enum field: nil is absent.
func enum[T any](field string, s *string, parse func(string) (T, error)) (T, error) {
	var zero T
	if s == nil {
		return zero, nil
	}
	v, err := parse(*s)
	if err != nil {
		var ie *card.InvalidError
		if errors.As(err, &ie) {
			return zero, invalid(field, field+" "+ie.Rule)
		}
		return zero, invalid(field, field+" is not valid")
	}
	return v, nil
}

// requiredEnum parses an enum field the body must have; missing is the
// message when it is absent.
func requiredEnum[T any](field, missing string, s *string, parse func(string) (T, error)) (T, error) {
	if s == nil {
		var zero T
		return zero, invalid(field, missing)
	}
	return enum(field, s, parse)
}

// answerCard answers with the card a use case returned, or with its error.
func answerCard(w http.ResponseWriter, status int, c card.Card, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, cardBodyOf(&c))
	return nil
}

// headerAccount checks a route of the x-account-id and x-customer-id
// headers up to its body: the headers (400), the token's account (403),
// the body's size (413).
func headerAccount(w http.ResponseWriter, r *http.Request, who principal) (account, customer string, body []byte, err error) {
	if account, customer, err = headerIDs(r, who); err != nil {
		return "", "", nil, err
	}
	if err := who.mayTouch(account); err != nil {
		return "", "", nil, err
	}
	if body, err = readBody(w, r); err != nil {
		return "", "", nil, err
	}
	return account, customer, body, nil
}

func (a *api) createCard(w http.ResponseWriter, r *http.Request, who principal) error {
	account, customer, body, err := headerAccount(w, r, who)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in createCardBody
	if err := decode(body, &in); err != nil {
		return err
	}
	if in.ProgramID < 0 {
		return invalid("program_id", "program_id must be a positive integer")
	}
	typ, err := enum("type", in.Type, card.ParseType)
	if err != nil {
		return err
	}
	mode, err := enum("mode", in.Mode, card.ParseMode)
	if err != nil {
		return err
	}
	status, err := enum("status", in.Status, card.ParseStatus)
	if err != nil {
		return err
	}
	c, err := a.core.Cards.Create(r.Context(), lifecycle.CreateRequest{
		OrgID: who.org, AccountID: account, CustomerID: customer, ProgramID: in.ProgramID,
		Type: typ, Status: status, Mode: mode, Name: in.Name, PrintedName: in.PrintedName,
		ExpirationDate: in.ExpirationDate, ValidityPeriodHours: in.ValidityPeriodHours,
		Metadata: rawObject(in.Metadata), EmbossingCustomField: in.EmbossingCustomField,
		EmbossingGroup: in.EmbossingGroup, PINLength: in.PINLength, ContactlessEnabled: in.ContactlessEnabled,
		TransactionLimit: in.TransactionLimit, TemplateID: in.TemplateID,
		CVVRotationIntervalHours: in.CVVRotationIntervalHours,
		IdempotencyKey:           key,
	})
	return answerCard(w, http.StatusCreated, c, err)
}

// errNoCard is the answer about card id when the caller may not see it:
// the same whether it exists (under another account, customer or org) or
// not, and without its status (SPEC 11). It wraps card.ErrNotFound.
func errNoCard(id int64) error { return card.NotFound("card", strconv.FormatInt(id, 10)) }

// ownedCard returns the card a /wallet/v1 path names: a card of the org
// under the path's account and customer. Any other card is errNoCard. An
// account and customer never change once set, so the check holds for the
// use case that follows.
func (a *api) ownedCard(ctx context.Context, who principal, o owner) (card.Card, error) {
	c, err := a.core.Cards.Get(ctx, who.org, o.card)
	if errors.Is(err, card.ErrNotFound) || (err == nil && (c.AccountID != o.account || c.CustomerID != o.customer)) {
		return card.Card{}, errNoCard(o.card)
	}
	if err != nil {
		return card.Card{}, err
	}
	return c, nil
}

// accountCard checks a /wallet/v1 card route up to its body: path ids (400),
// the token's account (403), the body's size (413).
func accountCard(w http.ResponseWriter, r *http.Request, who principal) (owner, []byte, error) {
	o, err := pathOwner(r)
	if err != nil {
		return o, nil, err
	}
	if err := who.mayTouch(o.account); err != nil {
		return o, nil, err
	}
	body, err := readBody(w, r)
	return o, body, err
}

// changeOwnedCard runs change on the card a /wallet/v1 path names once it
// is the caller's, and answers with the card as changed.
func (a *api) changeOwnedCard(w http.ResponseWriter, r *http.Request, who principal, o owner,
	change func(ctx context.Context, org string, id int64) (card.Card, error)) error {
	if _, err := a.ownedCard(r.Context(), who, o); err != nil {
		return err
	}
	c, err := change(r.Context(), who.org, o.card)
	return answerCard(w, http.StatusOK, c, err)
}

func (a *api) getCard(w http.ResponseWriter, r *http.Request, who principal) error {
	o, _, err := accountCard(w, r, who)
	if err != nil {
		return err
	}
	c, err := a.ownedCard(r.Context(), who, o)
	return answerCard(w, http.StatusOK, c, err)
}

func (a *api) updateStatus(w http.ResponseWriter, r *http.Request, who principal) error {
	o, body, err := accountCard(w, r, who)
	if err != nil {
		return err
	}
	var in struct {
		Status *string `json:"status"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	to, err := requiredEnum("status", "status is required", in.Status, card.ParseStatus)
	if err != nil {
		return err
	}
	return a.changeOwnedCard(w, r, who, o, func(ctx context.Context, org string, id int64) (card.Card, error) {
		return a.core.Cards.UpdateStatus(ctx, org, id, to)
	})
}

func (a *api) activate(w http.ResponseWriter, r *http.Request, who principal) error {
	o, _, err := accountCard(w, r, who)
	if err != nil {
		return err
	}
	return a.changeOwnedCard(w, r, who, o, a.core.Cards.Activate)
}

// submitReissue is the body of the reissue route (Pismo's SubmitReissue): the
// reason and the options that override the old card's fields.
type submitReissue struct {
	ReasonID             int64           `json:"reason_id"`
	PrintedName          string          `json:"printed_name"`
	EmbossingCustomField string          `json:"embossing_custom_field"`
	EmbossingGroup       string          `json:"embossing_group"`
	ContactlessEnabled   *bool           `json:"contactless_enabled"`
	Metadata             json.RawMessage `json:"metadata"`
	PINLength            int             `json:"pin_length"`
	ExpirationDate       string          `json:"expiration_date"`
	ValidityPeriodHours  int             `json:"validity_period_hours"`
	CVVRotationHours     *int            `json:"cvv_rotation_interval_hours"`
	TemplateID           string          `json:"template_id"`
	Status               *string         `json:"status"`
	Brand                *string         `json:"brand"`
}

func (a *api) reissue(w http.ResponseWriter, r *http.Request, who principal) error {
	o, body, err := accountCard(w, r, who)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in submitReissue
	if err := decode(body, &in); err != nil {
		return err
	}
	status, err := enum("status", in.Status, card.ParseStatus)
	if err != nil {
		return err
	}
	brand, err := enum("brand", in.Brand, card.ParseBrand)
	if err != nil {
		return err
	}
	req := reissue.Request{OrgID: who.org, CardID: o.card, ReasonID: in.ReasonID, IdempotencyKey: key,
		Options: reissue.Options{
			PrintedName: in.PrintedName, EmbossingCustomField: in.EmbossingCustomField,
			EmbossingGroup: in.EmbossingGroup, ContactlessEnabled: in.ContactlessEnabled,
			Metadata: rawObject(in.Metadata), PINLength: in.PINLength,
			ExpirationDate: in.ExpirationDate, ValidityPeriodHours: in.ValidityPeriodHours,
			CVVRotationIntervalHours: in.CVVRotationHours, TemplateID: in.TemplateID,
			Status: status, Brand: brand,
		}}
	if _, err := a.ownedCard(r.Context(), who, o); err != nil {
		if !errors.Is(err, card.ErrNotFound) {
			return err
		}
		// The body's errors (bad options, unknown or disabled reason) come
		// before 404.
		if err := a.core.Reissue.Check(r.Context(), req); err != nil {
			return err
		}
		return errNoCard(o.card)
	}
	res, err := a.core.Reissue.Reissue(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, reissueBodyOf(&res.New))
	return nil
}

func (a *api) readCard(w http.ResponseWriter, r *http.Request, who principal) error {
	id, err := pathCardID(r)
	if err != nil {
		return err
	}
	if err := who.requireServer(); err != nil {
		return err
	}
	c, err := a.core.Cards.Get(r.Context(), who.org, id)
	return answerCard(w, http.StatusOK, c, err)
}

func (a *api) bind(w http.ResponseWriter, r *http.Request, who principal) error {
	id, err := pathCardID(r)
	if err != nil {
		return err
	}
	account, customer, body, err := headerAccount(w, r, who)
	if err != nil {
		return err
	}
	var in struct {
		ReissuedCardID int64  `json:"reissued_card_id"`
		PrintedName    string `json:"printed_name"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	if in.ReissuedCardID < 0 {
		return invalid("reissued_card_id", "reissued_card_id must be a card id")
	}
	res, err := a.core.Noname.Bind(r.Context(), noname.BindRequest{OrgID: who.org, CardID: id,
		AccountID: account, CustomerID: customer, PrintedName: in.PrintedName, ReissuedCardID: in.ReissuedCardID})
	if err != nil {
		return a.bindRefused(r.Context(), who, id, err)
	}
	writeJSON(w, http.StatusAccepted, cardBodyOf(&res.Card))
	return nil
}

// bindRefused is the answer to a bind of card id that failed with err. A
// card that does not exist is errNoCard; so is, to an account token, a card
// bound to another account, which the conflict would show to exist and in
// which status (SPEC 11), the loser of a race with another account's bind
// included. A card's account never changes once set, so the card read
// after the conflict tells whose it was. (The library refuses a replaced
// card of another account as one that does not exist.)
func (a *api) bindRefused(ctx context.Context, who principal, id int64, err error) error {
	if errors.Is(err, card.ErrNotFound) {
		return errNoCard(id)
	}
	var ce *card.ConflictError
	if who.server || !errors.As(err, &ce) || ce.CardID != id {
		return err
	}
	c, gerr := a.core.Cards.Get(ctx, who.org, id)
	if gerr != nil {
		return gerr
	}
	if c.AccountID != "" && c.AccountID != who.account {
		return errNoCard(id)
	}
	return err
}

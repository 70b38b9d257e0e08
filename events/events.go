package events

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/google/uuid"
)

// Type is the event_type of an envelope: the event's name and its schema
// version.
type Type string

// The event types the library emits.
const (
	CardCreated        Type = "create-1"
	CardUpdated        Type = "update-1"
	CustomerBound      Type = "bind_card-1"
	NonameCancellation Type = "noname_cancellation-1"
)

// Domain is the envelope's domain for every event of the library.
const Domain = "cards"

// SchemaVersion is the envelope's schema_version.
const SchemaVersion = 1

// Event is the envelope of SPEC section 5. Seq and CardID are not part of
// the envelope: Seq is the event's position in the outbox, assigned by the
// store when the event is appended (a card's events are in version order,
// as a card's changes are serialised by its row lock); CardID names the
// card whose events must stay in that order.
type Event struct {
	ID            string          `json:"event_id"`
	Domain        string          `json:"domain"`
	Type          Type            `json:"event_type"`
	SchemaVersion int             `json:"schema_version"`
	OrgID         string          `json:"org_id"`
	CID           string          `json:"cid"`
	Timestamp     time.Time       `json:"timestamp"`
	Data          json.RawMessage `json:"data"`

	Seq    int64 `json:"-"`
	CardID int64 `json:"-"`
}

// CardData is the data of the card events (create-1, update-1, bind_card-1).
// Absent optional fields are omitted.
type CardData struct {
	CardID              int64  `json:"card_id"`
	CardToken           string `json:"card_token,omitempty"`
	AccountID           string `json:"account_id,omitempty"`
	CustomerID          string `json:"customer_id,omitempty"`
	ProgramID           int64  `json:"program_id"`
	CardStatus          string `json:"card_status"`
	CardPreviousStatus  string `json:"card_previous_status,omitempty"`
	CardType            string `json:"card_type"`
	CardName            string `json:"card_name,omitempty"`
	CardPrintedName     string `json:"card_printed_name,omitempty"`
	CardLastFourNumbers string `json:"card_last_four_numbers,omitempty"`
	CardHash            string `json:"card_hash,omitempty"`
	IssuingDate         string `json:"issuing_date,omitempty"`
	ExpirationDate      string `json:"expiration_date,omitempty"`
	ActivationDate      string `json:"activation_date,omitempty"`
	ValidUntil          string `json:"valid_until,omitempty"`
	BulkID              string `json:"bulk_id,omitempty"`
	ExternalID          string `json:"external_id,omitempty"`
	ReissuedCardID      int64  `json:"reissued_card_id,omitempty"`
	TrackNumber         int    `json:"track_number"`
	PasswordTries       int    `json:"password_tries"` // wrong PINs since the last reset (SPEC 12)
	OperationType       string `json:"operation_type"`
	Version             int64  `json:"version"`
}

// CancellationData is the data of noname_cancellation-1.
type CancellationData struct {
	BulkID     string  `json:"bulk_id"`
	CancelType string  `json:"cancel_type"`
	CardIDs    []int64 `json:"card_ids"`
}

// DataOf renders a card into the data of an event of op.
func DataOf(c *card.Card, op card.Operation) CardData {
	return CardData{
		CardID:              c.ID,
		CardToken:           c.Token,
		AccountID:           c.AccountID,
		CustomerID:          c.CustomerID,
		ProgramID:           c.ProgramID,
		CardStatus:          c.Status.String(),
		CardPreviousStatus:  c.PreviousStatus.String(),
		CardType:            c.Type.String(),
		CardName:            c.Name,
		CardPrintedName:     c.PrintedName,
		CardLastFourNumbers: c.Last4,
		CardHash:            c.PANHash,
		IssuingDate:         date(c.IssuingDate),
		ExpirationDate:      card.FormatExpiration(c.ExpirationDate),
		ActivationDate:      date(c.ActivationDate),
		ValidUntil:          date(c.ValidUntil),
		BulkID:              c.BulkID,
		ExternalID:          c.ExternalID,
		ReissuedCardID:      c.ReissuedCardID,
		TrackNumber:         c.TrackNumber,
		PasswordTries:       c.PasswordTries,
		OperationType:       op.OperationType(),
		Version:             c.Version,
	}
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Change describes the event a change of a card emits: its type, the
// operation, and when. A store writes a card with its Change in one call
// (storage.CardWriter.Save), so no card changes without its event.
type Change struct {
	Type      Type
	Operation card.Operation
	At        time.Time
}

// Created is the Change of a new card made by op.
func Created(op card.Operation, at time.Time) Change { return Change{CardCreated, op, at} }

// Updated is the Change of a card that op changed.
func Updated(op card.Operation, at time.Time) Change { return Change{CardUpdated, op, at} }

// For builds the event of the change for c as it is stored: call it once c
// has its ID.
func (ch Change) For(ctx context.Context, c *card.Card) (Event, error) {
	d := DataOf(c, ch.Operation)
	var buf [640]byte
	e := envelope(ctx, ch.Type, c.OrgID, bytes.Clone(d.appendJSON(buf[:0])), ch.At)
	e.CardID = c.ID
	return e, nil
}

// New builds an event of type t for org with data, at now. The correlation
// id comes from ctx (see WithCorrelationID) or is generated.
func New(ctx context.Context, t Type, org string, data any, now time.Time) (Event, error) {
	var raw []byte
	var err error
	switch d := data.(type) {
	case CardData:
		raw = d.appendJSON(nil)
	case *CardData:
		raw = d.appendJSON(nil)
	default:
		raw, err = json.Marshal(data)
	}
	if err != nil {
		return Event{}, err
	}
	return envelope(ctx, t, org, raw, now), nil
}

// envelope wraps raw, the JSON data of an event of type t for org, at now.
func envelope(ctx context.Context, t Type, org string, raw json.RawMessage, now time.Time) Event {
	cid, ok := CorrelationID(ctx)
	if !ok {
		cid = uuid.NewString()
	}
	return Event{
		ID:            uuid.NewString(),
		Domain:        Domain,
		Type:          t,
		SchemaVersion: SchemaVersion,
		OrgID:         org,
		CID:           cid,
		Timestamp:     now.UTC(),
		Data:          raw,
	}
}

type cidKey struct{}

// WithCorrelationID returns a context whose events carry cid.
func WithCorrelationID(ctx context.Context, cid string) context.Context {
	return context.WithValue(ctx, cidKey{}, cid)
}

// EnsureCorrelationID returns ctx when it carries a correlation id, and
// otherwise a context with a new one, so that every event of one use case
// call shares a cid.
func EnsureCorrelationID(ctx context.Context) context.Context {
	if _, ok := CorrelationID(ctx); ok {
		return ctx
	}
	return WithCorrelationID(ctx, uuid.NewString())
}

// CorrelationID returns the correlation id set by WithCorrelationID.
func CorrelationID(ctx context.Context) (string, bool) {
	cid, ok := ctx.Value(cidKey{}).(string)
	return cid, ok && cid != ""
}

// String renders the event as its JSON envelope with its seq, for logs and
// the demo. Card events carry no PAN, so the envelope is safe to print.
func (e Event) String() string {
	b, err := json.Marshal(e)
	if err != nil {
		return "event " + e.ID + ": " + err.Error()
	}
	return "#" + strconv.FormatInt(e.Seq, 10) + " " + string(b)
}

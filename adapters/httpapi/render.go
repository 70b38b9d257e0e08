package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/noname"
)

// stringRef is {"id": "..."}, as UpdateCardStatusResponse types its
// program, account, customer and org.
type stringRef struct {
	ID string `json:"id"`
}

// intRef is {"id": 123}, as ReissueCardResponse types its account and
// customer.
type intRef struct {
	ID int64 `json:"id"`
}

// cardBody is the seed's UpdateCardStatusResponse: every field of the
// schema that cardcore holds. Optional fields without a value are omitted.
type cardBody struct {
	Program        stringRef  `json:"program"`
	Account        *stringRef `json:"account,omitempty"`
	Customer       *stringRef `json:"customer,omitempty"`
	Org            stringRef  `json:"org"`
	ID             int64      `json:"id"`
	Hash           string     `json:"hash,omitempty"`
	Last4Digits    string     `json:"last_4_digits,omitempty"`
	Brand          string     `json:"brand,omitempty"`
	BIN            string     `json:"bin,omitempty"`
	Status         string     `json:"status"`
	PreviousStatus string     `json:"previous_status,omitempty"`
	issueFields
	usageFields
	ReissuedCardID int64           `json:"reissued_card_id,omitempty"`
	Type           string          `json:"type"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	TemplateID     string          `json:"template_id,omitempty"`
	ValidUntil     string          `json:"valid_until,omitempty"`
	BulkID         string          `json:"bulk_id,omitempty"`
	ExternalID     string          `json:"external_id,omitempty"`
	Mode           string          `json:"mode"`
}

// issueFields are what both card answers say of the card's issue, in the
// order they answer them.
type issueFields struct {
	IssuingDate    string `json:"issuing_date"`
	ExpirationDate string `json:"expiration_date,omitempty"`
	PrintedName    string `json:"printed_name,omitempty"`
	Name           string `json:"name,omitempty"`
}

func issueFieldsOf(c *card.Card) issueFields {
	return issueFields{IssuingDate: timestamp(c.IssuingDate), ExpirationDate: card.FormatExpiration(c.ExpirationDate),
		PrintedName: c.PrintedName, Name: c.Name}
}

// usageFields are what both card answers say of the card's use, in the
// order they answer them.
type usageFields struct {
	TrackNumber      int    `json:"track_number"`
	TransactionLimit string `json:"transaction_limit,omitempty"`
	// PasswordTries is in UpdateCardStatusResponse only (always, 0
	// included), not in ReissueCardResponse.
	PasswordTries        *int   `json:"password_tries,omitempty"`
	EmbossingCustomField string `json:"embossing_custom_field,omitempty"`
	ContactlessEnabled   bool   `json:"contactless_enabled"`
}

func usageFieldsOf(c *card.Card) usageFields {
	return usageFields{TrackNumber: c.TrackNumber, TransactionLimit: c.TransactionLimit,
		EmbossingCustomField: c.EmbossingCustomField, ContactlessEnabled: c.ContactlessEnabled}
}

func cardBodyOf(c *card.Card) cardBody {
	b := cardBody{
		Program:        stringRef{strconv.FormatInt(c.ProgramID, 10)},
		Org:            stringRef{c.OrgID},
		ID:             c.ID,
		Hash:           c.PANHash,
		Last4Digits:    c.Last4,
		BIN:            c.BIN,
		Status:         c.Status.String(),
		PreviousStatus: c.PreviousStatus.String(),
		issueFields:    issueFieldsOf(c),
		usageFields:    usageFieldsOf(c),
		ReissuedCardID: c.ReissuedCardID,
		Type:           c.Type.String(),
		Metadata:       c.Metadata,
		TemplateID:     c.TemplateID,
		ValidUntil:     timestamp(c.ValidUntil),
		BulkID:         c.BulkID,
		ExternalID:     c.ExternalID,
		Mode:           c.Mode.String(),
	}
	tries := c.PasswordTries
	b.PasswordTries = &tries
	if !c.Brand.IsZero() {
		b.Brand = c.Brand.String()
	}
	if c.AccountID != "" {
		b.Account = &stringRef{c.AccountID}
		b.Customer = &stringRef{c.CustomerID}
	}
	return b
}

// reissueBody is the seed's ReissueCardResponse, for the new card of a
// reissue.
type reissueBody struct {
	Program  stringRef `json:"program"`
	Account  *intRef   `json:"account,omitempty"`
	Customer *intRef   `json:"customer,omitempty"`
	Org      stringRef `json:"org"`
	ID       int64     `json:"id"`
	Status   string    `json:"status"`
	issueFields
	Mode string `json:"mode"`
	usageFields
	Type                string `json:"type"`
	ValidityPeriodHours int    `json:"validity_period_hours,omitempty"`
	ValidUntil          string `json:"valid_until,omitempty"`
	// SPEC 12: the reissue keeps and returns these SubmitReissue fields.
	CVVRotationIntervalHours *int   `json:"cvv_rotation_interval_hours,omitempty"`
	TemplateID               string `json:"template_id,omitempty"`
}

func reissueBodyOf(c *card.Card) reissueBody {
	b := reissueBody{
		Program:             stringRef{strconv.FormatInt(c.ProgramID, 10)},
		Org:                 stringRef{c.OrgID},
		ID:                  c.ID,
		Status:              c.Status.String(),
		issueFields:         issueFieldsOf(c),
		Mode:                c.Mode.String(),
		usageFields:         usageFieldsOf(c),
		Type:                c.Type.String(),
		ValidityPeriodHours: c.ValidityPeriodHours,
		ValidUntil:          timestamp(c.ValidUntil),
		TemplateID:          c.TemplateID,
	}
	if h := c.CVVRotationIntervalHours; h != nil {
		v := *h
		b.CVVRotationIntervalHours = &v
	}
	// The route admits only cards of decimal accounts and customers, so
	// these parse; a card made outside the API with other ids omits them
	// rather than render them as something they are not.
	if n, err := strconv.ParseInt(c.AccountID, 10, 64); err == nil {
		b.Account = &intRef{n}
	}
	if n, err := strconv.ParseInt(c.CustomerID, 10, 64); err == nil {
		b.Customer = &intRef{n}
	}
	return b
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// reasonBody is a reissue reason. cost is a JSON number.
type reasonBody struct {
	ID          int64       `json:"id"`
	Description string      `json:"description"`
	Type        string      `json:"type"`
	MustBlock   bool        `json:"must_block"`
	MustCharge  bool        `json:"must_charge"`
	Cost        json.Number `json:"cost"`
	Enabled     bool        `json:"enabled"`
}

func reasonBodyOf(r *card.Reason) reasonBody {
	return reasonBody{ID: r.ID, Description: r.Description, Type: r.Type, MustBlock: r.MustBlock,
		MustCharge: r.MustCharge, Cost: json.Number(r.Cost), Enabled: r.Enabled}
}

// bulkBody is a noname bulk: external_ids is how many it holds, cards the
// number of its cards in each status that has any.
type bulkBody struct {
	ID          string         `json:"id"`
	ProgramID   int64          `json:"program_id"`
	Status      string         `json:"status"`
	ExternalIDs int            `json:"external_ids"`
	Cards       map[string]int `json:"cards"`
}

func bulkBodyOf(v noname.View) bulkBody {
	b := bulkBody{ID: v.ID, ProgramID: v.ProgramID, Status: v.Status.String(), ExternalIDs: v.ExternalIDs,
		Cards: make(map[string]int, len(v.Cards))}
	for s, n := range v.Cards {
		if n > 0 {
			b.Cards[s.String()] = n
		}
	}
	return b
}

// feedEvent is an outbox event's envelope with its feed position.
type feedEvent struct {
	events.Event
	Seq int64 `json:"seq"`
}

type feedBody struct {
	Events    []feedEvent `json:"events"`
	NextAfter int64       `json:"next_after"`
}

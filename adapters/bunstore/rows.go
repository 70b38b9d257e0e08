package bunstore

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// cardRow is a card as stored. Enums are stored by name, so the tables read
// well without the library; times are UTC with microsecond precision.
type cardRow struct {
	bun.BaseModel `bun:"table:cardcore_cards"`

	ID                       int64     `bun:"id,pk,autoincrement"`
	Token                    string    `bun:"token"`
	OrgID                    string    `bun:"org_id"`
	ProgramID                int64     `bun:"program_id"`
	AccountID                string    `bun:"account_id"`
	CustomerID               string    `bun:"customer_id"`
	Type                     string    `bun:"type"`
	Mode                     string    `bun:"mode"`
	Status                   string    `bun:"status"`
	PreviousStatus           string    `bun:"previous_status"`
	Name                     string    `bun:"name"`
	PrintedName              string    `bun:"printed_name"`
	Brand                    string    `bun:"brand"`
	BIN                      string    `bun:"bin"`
	Last4                    string    `bun:"last4"`
	PANHash                  string    `bun:"pan_hash"`
	IssuingDate              time.Time `bun:"issuing_date"`
	ExpirationDate           time.Time `bun:"expiration_date,nullzero"`
	ActivationDate           time.Time `bun:"activation_date,nullzero"`
	ValidityPeriodHours      int       `bun:"validity_period_hours"`
	ValidUntil               time.Time `bun:"valid_until,nullzero"`
	TrackNumber              int       `bun:"track_number"`
	ReissuedCardID           int64     `bun:"reissued_card_id,nullzero"`
	BulkID                   string    `bun:"bulk_id,nullzero"`
	ExternalID               string    `bun:"external_id,nullzero"`
	Synced                   bool      `bun:"synced"`
	CloseDate                time.Time `bun:"close_date,nullzero"`
	Metadata                 string    `bun:"metadata,nullzero"`
	EmbossingCustomField     string    `bun:"embossing_custom_field"`
	EmbossingGroup           string    `bun:"embossing_group"`
	PINLength                int       `bun:"pin_length"`
	ContactlessEnabled       bool      `bun:"contactless_enabled"`
	TransactionLimit         string    `bun:"transaction_limit"`
	TemplateID               string    `bun:"template_id"`
	CVVRotationIntervalHours *int      `bun:"cvv_rotation_interval_hours"`
	PasswordTries            int       `bun:"password_tries"`
	Version                  int64     `bun:"version"`
	CreatedAt                time.Time `bun:"created_at"`
	UpdatedAt                time.Time `bun:"updated_at"`

	// Keys derived from the status for the indexes that depend on it (see
	// derive): they change only when the status enters or leaves their
	// set, so the usual status changes touch no index.
	ExpiryDue   time.Time `bun:"expiry_due,nullzero"`
	ValidityDue time.Time `bun:"validity_due,nullzero"`
	AliasKey    string    `bun:"alias_key,nullzero"`
	BulkStatus  string    `bun:"bulk_status,nullzero"`

	// chain is the card's last_seq on SQLite (migration card_chain) as the
	// transaction read or wrote it; it is no column of bun's model.
	chain chainLink
}

// chainLink is a card's last_seq, the seq of its latest event, when known:
// read with the card (selectCard, on SQLite) or written by the chained
// save (tx.go, appendChained).
type chainLink struct {
	seq   sql.NullInt64
	known bool
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func rowOf(c *card.Card) cardRow {
	r := cardRow{
		ID: c.ID, Token: c.Token, OrgID: c.OrgID, ProgramID: c.ProgramID,
		AccountID: c.AccountID, CustomerID: c.CustomerID,
		Type: c.Type.String(), Mode: c.Mode.String(),
		Status: c.Status.String(), PreviousStatus: c.PreviousStatus.String(),
		Name: c.Name, PrintedName: c.PrintedName,
		Brand: c.Brand.String(), BIN: c.BIN, Last4: c.Last4, PANHash: c.PANHash,
		IssuingDate: utc(c.IssuingDate), ExpirationDate: utc(c.ExpirationDate), ActivationDate: utc(c.ActivationDate),
		ValidityPeriodHours: c.ValidityPeriodHours, ValidUntil: utc(c.ValidUntil),
		TrackNumber: c.TrackNumber, ReissuedCardID: c.ReissuedCardID,
		BulkID: c.BulkID, ExternalID: c.ExternalID, Metadata: string(c.Metadata),
		Synced: c.Synced, CloseDate: utc(c.CloseDate),
		EmbossingCustomField: c.EmbossingCustomField, EmbossingGroup: c.EmbossingGroup,
		PINLength: c.PINLength, ContactlessEnabled: c.ContactlessEnabled,
		TransactionLimit: c.TransactionLimit, TemplateID: c.TemplateID,
		CVVRotationIntervalHours: c.CVVRotationIntervalHours, PasswordTries: c.PasswordTries,
		Version: c.Version, CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt),
	}
	r.derive(c)
	return r
}

// derive sets the row's keys for the indexes that depend on the status.
// An index whose definition names the status would be rewritten by every
// status change (SQLite updates the indexes that name a changed column,
// PostgreSQL cannot update a row in place when an indexed column changes),
// so those indexes are on these keys instead, and NORMAL <-> BLOCKED and
// the like leave every index alone:
//
//   - ExpiryDue is the expiration month of a card that is not terminated,
//     for the sweep's expiry (cardcore_cards_expiry);
//   - ValidityDue is the end of the validity period of a card in NORMAL,
//     REISSUED, BLOCKED, PENDING or WARNING, for the sweep's validity rule
//     (cardcore_cards_validity);
//   - AliasKey is the alias of a VIRTUAL card that is not terminated, unique
//     per customer (cardcore_cards_virtual_alias);
//   - BulkStatus is the status of a card made in a noname bulk, for
//     counting a bulk's cards and finding its UNBOUND ones
//     (cardcore_cards_bulk_status).
func (r *cardRow) derive(c *card.Card) {
	r.ExpiryDue, r.ValidityDue, r.AliasKey, r.BulkStatus = time.Time{}, time.Time{}, "", ""
	if !c.Status.Terminated() {
		r.ExpiryDue = r.ExpirationDate
		if c.Type == card.Virtual {
			r.AliasKey = r.Name
		}
	}
	if validityDueIn[c.Status] {
		r.ValidityDue = r.ValidUntil
	}
	if r.BulkID != "" {
		r.BulkStatus = r.Status
	}
}

// validityDueIn are the statuses in which an elapsed validity period makes
// a card INOPERATIVE (storage.Tx.Due).
var validityDueIn = map[card.Status]bool{card.Normal: true, card.Reissued: true, card.Blocked: true, card.Pending: true, card.Warning: true}

// card converts a stored row back. Enum names that do not parse mean the
// table was written by something else; they are reported, not guessed.
func (r *cardRow) card() (card.Card, error) {
	c := card.Card{
		ID: r.ID, Token: r.Token, OrgID: r.OrgID, ProgramID: r.ProgramID,
		AccountID: r.AccountID, CustomerID: r.CustomerID,
		Name: r.Name, PrintedName: r.PrintedName,
		BIN: r.BIN, Last4: r.Last4, PANHash: r.PANHash,
		IssuingDate: utc(r.IssuingDate), ExpirationDate: utc(r.ExpirationDate), ActivationDate: utc(r.ActivationDate),
		ValidityPeriodHours: r.ValidityPeriodHours, ValidUntil: utc(r.ValidUntil),
		TrackNumber: r.TrackNumber, ReissuedCardID: r.ReissuedCardID,
		BulkID: r.BulkID, ExternalID: r.ExternalID, Synced: r.Synced, CloseDate: utc(r.CloseDate),
		EmbossingCustomField: r.EmbossingCustomField, EmbossingGroup: r.EmbossingGroup,
		PINLength: r.PINLength, ContactlessEnabled: r.ContactlessEnabled,
		TransactionLimit: r.TransactionLimit, TemplateID: r.TemplateID,
		CVVRotationIntervalHours: r.CVVRotationIntervalHours, PasswordTries: r.PasswordTries,
		Version: r.Version, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}
	if r.Metadata != "" {
		c.Metadata = json.RawMessage(r.Metadata)
	}
	var err error
	if c.Type, err = card.ParseType(r.Type); err != nil {
		return c, err
	}
	if c.Mode, err = card.ParseMode(r.Mode); err != nil {
		return c, err
	}
	if c.Status, err = card.ParseStatus(r.Status); err != nil {
		return c, err
	}
	if r.PreviousStatus != "" {
		if c.PreviousStatus, err = card.ParseStatus(r.PreviousStatus); err != nil {
			return c, err
		}
	}
	if r.Brand != "" {
		if c.Brand, err = card.ParseBrand(r.Brand); err != nil {
			return c, err
		}
	}
	return c, nil
}

// outboxRow is one event of the transactional outbox.
type outboxRow struct {
	bun.BaseModel `bun:"table:cardcore_outbox"`

	Seq        int64     `bun:"seq,pk,autoincrement"`
	EventID    string    `bun:"event_id"`
	OrgID      string    `bun:"org_id"`
	CardID     int64     `bun:"card_id,nullzero"`
	EventType  string    `bun:"event_type"`
	CID        string    `bun:"cid"`
	OccurredAt time.Time `bun:"occurred_at"`
	Data       string    `bun:"data"`
}

func (r *outboxRow) event() events.Event {
	return events.Event{
		ID: r.EventID, Domain: events.Domain, Type: events.Type(r.EventType),
		SchemaVersion: events.SchemaVersion, OrgID: r.OrgID, CID: r.CID,
		Timestamp: utc(r.OccurredAt), Data: json.RawMessage(r.Data),
		Seq: r.Seq, CardID: r.CardID,
	}
}

// idempotencyRow is a remembered request.
type idempotencyRow struct {
	bun.BaseModel `bun:"table:cardcore_idempotency"`

	OrgID       string    `bun:"org_id,pk"`
	Scope       string    `bun:"scope,pk"`
	Key         string    `bun:"key,pk"`
	Fingerprint string    `bun:"fingerprint"`
	Result      []byte    `bun:"result"`
	CreatedAt   time.Time `bun:"created_at"`
}

// reasonRow is a reissue reason as stored.
type reasonRow struct {
	bun.BaseModel `bun:"table:cardcore_reasons"`

	ID          int64     `bun:"id,pk,autoincrement"`
	OrgID       string    `bun:"org_id"`
	Description string    `bun:"description"`
	Type        string    `bun:"type"`
	MustBlock   bool      `bun:"must_block"`
	MustCharge  bool      `bun:"must_charge"`
	Cost        string    `bun:"cost"`
	Enabled     bool      `bun:"enabled"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

func reasonRowOf(r *card.Reason) reasonRow {
	return reasonRow{ID: r.ID, OrgID: r.OrgID, Description: r.Description, Type: r.Type,
		MustBlock: r.MustBlock, MustCharge: r.MustCharge, Cost: r.Cost, Enabled: r.Enabled,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func (r *reasonRow) reason() card.Reason {
	return card.Reason{ID: r.ID, OrgID: r.OrgID, Description: r.Description, Type: r.Type,
		MustBlock: r.MustBlock, MustCharge: r.MustCharge, Cost: r.Cost, Enabled: r.Enabled,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

// bulkRow is a noname bulk as stored.
type bulkRow struct {
	bun.BaseModel `bun:"table:cardcore_bulks"`

	ID                 string    `bun:"id,pk"`
	OrgID              string    `bun:"org_id"`
	ProgramID          int64     `bun:"program_id"`
	Status             string    `bun:"status"`
	ExternalIDs        int       `bun:"external_ids"`
	CardsMade          int       `bun:"cards_made"`
	PINLength          int       `bun:"pin_length"`
	ContactlessEnabled bool      `bun:"contactless_enabled"`
	Version            int64     `bun:"version"`
	CreatedAt          time.Time `bun:"created_at"`
	UpdatedAt          time.Time `bun:"updated_at"`
}

func bulkRowOf(b *card.Bulk) bulkRow {
	return bulkRow{ID: b.ID, OrgID: b.OrgID, ProgramID: b.ProgramID, Status: b.Status.String(),
		ExternalIDs: b.ExternalIDs, CardsMade: b.CardsMade, PINLength: b.PINLength, ContactlessEnabled: b.ContactlessEnabled,
		Version: b.Version, CreatedAt: utc(b.CreatedAt), UpdatedAt: utc(b.UpdatedAt)}
}

func (r *bulkRow) bulk() (card.Bulk, error) {
	st, err := card.ParseBulkStatus(r.Status)
	return card.Bulk{ID: r.ID, OrgID: r.OrgID, ProgramID: r.ProgramID, Status: st,
		ExternalIDs: r.ExternalIDs, CardsMade: r.CardsMade, PINLength: r.PINLength, ContactlessEnabled: r.ContactlessEnabled,
		Version: r.Version, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}, err
}

// externalIDRow is one external id of a bulk, at its position.
type externalIDRow struct {
	bun.BaseModel `bun:"table:cardcore_bulk_external_ids"`

	BulkID     string `bun:"bulk_id,pk"`
	Position   int64  `bun:"position,pk"`
	ExternalID string `bun:"external_id"`
}

// newToken is the token of a card stored without one: a version 7 UUID
// (RFC 9562), whose first 48 bits are the time in milliseconds and the
// rest random (74 bits, with a counter that keeps a process's tokens in
// order within a millisecond). Time-ordered tokens go in at the right edge
// of the unique token index, as ids do: a version 4 token landed on a
// random leaf of it, so that every chunk of a bulk wrote most of the
// index's leaves to the WAL again (a 100,000-card SQLite bulk made 10,700
// cards/s with version 4 tokens, 16,500 with version 7;
// bench/results/2026-12-07-v7-tokens.txt). A token is an identifier, not
// a secret: reading a card still takes a token of its org, and what the
// token tells of the time is the card's created_at.
func newToken() string { return uuid.Must(uuid.NewV7()).String() }

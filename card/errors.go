package card

import (
	"errors"
	"fmt"
	"strings"
)

// The sentinels of the error taxonomy. Every error the library returns wraps
// exactly one of them, so callers branch with errors.Is; the typed errors
// below carry the details and are reached with errors.As.
var (
	// ErrNotFound: the card, reason, bulk or key does not exist in the org.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input breaks a field rule. See *InvalidError.
	ErrInvalid = errors.New("invalid input")
	// ErrConflict: the operation is refused by the card's current state.
	// See *ConflictError.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: the caller could not be identified.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the caller is identified but may not touch the resource.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the store could not take the operation now, e.g.
	// another process held the SQLite file's write lock longer than the
	// busy timeout. Nothing was written; the same call may succeed later.
	ErrUnavailable = errors.New("unavailable")
)

// InvalidError reports input that breaks a field rule. It wraps ErrInvalid.
type InvalidError struct {
	Field string // the field as the API names it, e.g. "printed_name"
	Rule  string // the rule it breaks, in words
}

// Invalid returns an *InvalidError for field and rule.
func Invalid(field, rule string) *InvalidError { return &InvalidError{Field: field, Rule: rule} }

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "invalid input: " + e.Rule
	}
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Rule)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// ConflictError reports an operation that the state of a card (or bulk, or
// idempotency key) refuses. It wraps ErrConflict.
type ConflictError struct {
	CardID    int64  // the card concerned, 0 when the conflict is not about a card
	Operation string // the refused operation, e.g. "update_status", "activate"
	Status    Status // the card's current status, zero when not about a status
	Requested Status // the status asked for, zero when the operation names none
	Reason    string // what is wrong, in words
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	b.WriteString("conflict: ")
	b.WriteString(e.Operation)
	if e.CardID != 0 {
		fmt.Fprintf(&b, " card %d", e.CardID)
	}
	if !e.Status.IsZero() && !e.Requested.IsZero() {
		fmt.Fprintf(&b, " from %s to %s", e.Status, e.Requested)
	} else if !e.Status.IsZero() {
		fmt.Fprintf(&b, " in status %s", e.Status)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// NotFoundError names what was not found. It wraps ErrNotFound.
type NotFoundError struct {
	Kind string // "card", "reason", "bulk", "program"
	ID   string
}

// NotFound returns a *NotFoundError for the kind and id.
func NotFound(kind, id string) *NotFoundError { return &NotFoundError{Kind: kind, ID: id} }

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.Kind, e.ID) }

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

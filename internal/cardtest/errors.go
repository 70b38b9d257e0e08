package cardtest

import (
	"errors"

	"github.com/cardcore/cardcore/card"
)

// WantInvalid fails unless err is invalid input naming field and a rule.
func WantInvalid(t TB, err error, field string) *card.InvalidError {
	t.Helper()
	var ie *card.InvalidError
	if !errors.Is(err, card.ErrInvalid) || !errors.As(err, &ie) {
		t.Fatalf("err = %v, want invalid %s", err, field)
	}
	if ie.Field != field || ie.Rule == "" {
		t.Fatalf("invalid field %q (%v), want %q and a rule", ie.Field, err, field)
	}
	return ie
}

// WantConflict fails unless err, the answer to what, is a conflict.
func WantConflict(t TB, err error, what string) *card.ConflictError {
	t.Helper()
	var ce *card.ConflictError
	if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("%s: err = %v, want a conflict", what, err)
	}
	return ce
}

// WantConflictOn fails unless err is a conflict naming card id in status.
func WantConflictOn(t TB, err error, id int64, status card.Status) *card.ConflictError {
	t.Helper()
	ce := WantConflict(t, err, status.String()+" card")
	if ce.CardID != id || ce.Status != status {
		t.Fatalf("conflict names card %d in %s, want card %d in %s", ce.CardID, ce.Status, id, status)
	}
	return ce
}

// WantNotFound fails unless err, the answer to what, is not found.
func WantNotFound(t TB, err error, what string) {
	t.Helper()
	if !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("%s: err = %v, want not found", what, err)
	}
}

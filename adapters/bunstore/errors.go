package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cardcore/cardcore/card"
)

// storeError is a database failure, reported by message only so that no
// driver or bun type escapes the package. kind is card.ErrUnavailable when
// the database could not take the operation now, else nil.
type storeError struct {
	op, msg   string
	retryable bool
	kind      error
}

func (e *storeError) Error() string { return "bunstore: " + e.op + ": " + e.msg }

// Unwrap makes errors.Is(err, card.ErrUnavailable) true when it is so.
func (e *storeError) Unwrap() error { return e.kind }

// Interfaces of the drivers' error types, matched without importing them:
// pgconn.PgError has SQLState, modernc's sqlite.Error has Code.
type sqlStater interface{ SQLState() string }
type sqliteCoder interface{ Code() int }

// constraints maps what a unique violation names (the PostgreSQL index, or
// the SQLite columns) to the rule it enforces.
var constraints = []struct{ pg, sqlite, rule string }{
	{"cardcore_cards_virtual_alias", "cardcore_cards.customer_id, cardcore_cards.alias_key", "the customer already has a VIRTUAL card with this name"},
	{"cardcore_cards_successor", "cardcore_cards.reissued_card_id", "the card already has a successor"},
	{"cardcore_bulk_external_ids_unique", "cardcore_bulk_external_ids.external_id", "the external id is already in the bulk"},
	{"cardcore_cards_bulk", "cardcore_cards.external_id", "the external id is already in the bulk"},
	{"cardcore_cards_token", "cardcore_cards.token", "the card token is already used"},
	{"cardcore_cards_synced", "cardcore_cards.customer_id, cardcore_cards.last4", "a synced card with these last four digits already exists for the account and customer"},
}

// translate turns a database error into the library's taxonomy. Errors
// already in it, and context errors, pass through.
func translate(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	for _, domain := range []error{card.ErrNotFound, card.ErrInvalid, card.ErrConflict, card.ErrForbidden, card.ErrUnauthorized, card.ErrUnavailable} {
		if errors.Is(err, domain) {
			return err
		}
	}
	var se *storeError
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("bunstore: %s: %w", op, err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("bunstore: %s: %w", op, ctxErr)
	}
	if cause := unavailable(err); cause != "" {
		return &storeError{op: op, msg: cause + " (" + err.Error() + ")", retryable: Retryable(err), kind: card.ErrUnavailable}
	}
	if unique(err) {
		rule := "a unique rule of the store"
		msg := err.Error()
		for _, c := range constraints {
			if strings.Contains(msg, c.pg) || strings.Contains(msg, c.sqlite) {
				rule = c.rule
				break
			}
		}
		return &card.ConflictError{Operation: op, Reason: rule}
	}
	return &storeError{op: op, msg: err.Error(), retryable: Retryable(err)}
}

func unique(err error) bool {
	var pg sqlStater
	if errors.As(err, &pg) {
		return pg.SQLState() == "23505"
	}
	var lite sqliteCoder
	if errors.As(err, &lite) {
		return lite.Code() == 2067 || lite.Code() == 1555 // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
	}
	return false
}

// SQLite's result codes of another writer's lock: the primary ones, and
// the extended code of a transaction whose snapshot another writer has
// moved past (WAL mode), which waiting cannot cure.
const (
	sqliteBusy         = 5
	sqliteLocked       = 6
	sqliteBusySnapshot = 517
)

// unavailable says why the database could not take the operation now, or
// "" when err is no such failure: SQLite's lock held by another writer
// past the busy timeout; on PostgreSQL, a lock held past lock_timeout,
// the server's connections used up, or the server shutting down or
// starting up.
func unavailable(err error) string {
	var lite sqliteCoder
	if errors.As(err, &lite) {
		switch code := lite.Code(); {
		case code == sqliteBusySnapshot:
			return "the database is busy: another writer committed since the transaction first read; run it again"
		case code&0xff == sqliteBusy:
			return "the database is busy: another writer held its write lock longer than the busy timeout"
		case code&0xff == sqliteLocked:
			return "the database is locked by another statement or connection of this process"
		}
		return ""
	}
	var pg sqlStater
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "55P03":
			return "a lock held by another session was not released within lock_timeout"
		case "53300":
			return "the database server has no connection left"
		case "57P01", "57P02":
			return "the database server is shutting down"
		case "57P03":
			return "the database server is not accepting connections yet"
		}
	}
	return ""
}

// lockNotAvailable reports whether err is PostgreSQL's lock_not_available
// (55P03): a NOWAIT lock on a row another transaction holds, or a wait
// past lock_timeout.
func lockNotAvailable(err error) bool {
	var pg sqlStater
	return errors.As(err, &pg) && pg.SQLState() == "55P03"
}

// Retryable reports whether the whole transaction err ended may be run
// again at once: a PostgreSQL deadlock or serialization failure, a
// statement the connection had prepared that PostgreSQL no longer runs as
// prepared (a column's type altered since, or the statement gone: the
// store deallocates it, and the next run prepares it again), or a SQLite
// transaction whose snapshot another writer moved past. Update
// runs its own transactions again; the host checks the errors of a
// transaction of its own, which the Update of a store bound by InTx
// returns rather than retries. An error wrapping card.ErrUnavailable
// after a wait (the busy timeout, lock_timeout) or for a server going
// away is not Retryable: the wait has been spent, and the caller tries
// again later (the HTTP API answers 503 with Retry-After).
func Retryable(err error) bool {
	var se *storeError
	if errors.As(err, &se) {
		return se.retryable
	}
	var pg sqlStater
	if errors.As(err, &pg) {
		s := pg.SQLState()
		return s == "40001" || s == "40P01" || staleStatement(err)
	}
	var lite sqliteCoder
	if errors.As(err, &lite) {
		return lite.Code() == sqliteBusySnapshot
	}
	return false
}

func notFound(ctx context.Context, kind string, id string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return card.NotFound(kind, id)
	}
	return translate(ctx, "read "+kind, err)
}

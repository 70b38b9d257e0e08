package bunstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CeilingStatements are the texts of the prepared statements the store
// sends to read a card, and to save a card's change with its event, for
// one dialect. They are here for the ceiling of cardcore bench's
// per-request workloads (read-ceiling, transition-ceiling, bind-ceiling),
// which sends the same SQL raw, with none of the library's work, to
// measure what cardcore's schema costs; they are not an interface for
// anything else.
type CeilingStatements struct {
	// Columns are the columns SelectCard reads, in their order.
	Columns []string
	// SelectCard reads one card by org and id (arguments org, id), as
	// Store.Card does; SelectCardLocked is the same for a write
	// transaction's read (FOR UPDATE on PostgreSQL).
	SelectCard, SelectCardLocked string
	// InsertEvent appends one outbox row; its arguments are those of
	// EventColumns, in that order. On SQLite it is the chained save's: the
	// event takes the seq the Update gave the card's last_seq, and its last
	// column, prev_seq, is the card's last_seq as read.
	InsertEvent  string
	EventColumns []string
	// WriteLock is the first statement of a SQLite write transaction; ""
	// on PostgreSQL.
	WriteLock string
	// Update saves UpdateColumns over a card's previous version: their
	// values, then id, org and the previous version; the store sends it
	// on SQLite, followed by InsertEvent. On SQLite it is the chained
	// save's: it also sets the card's last_seq to the next event's seq,
	// and its last argument is the card's last_seq as read (the last of
	// Columns).
	Update        string
	UpdateColumns []string
	// SaveWithEvent is Update and InsertEvent in one statement, the
	// event's arguments after the UPDATE's, which fails when it saves no
	// card, as the store sends it on PostgreSQL with the COMMIT
	// (CeilingSaveCommit); "" on SQLite.
	SaveWithEvent string
	// TimeArg is the argument the store sends for a time column.
	TimeArg func(t time.Time) any
}

// CeilingSQL returns the statements of one dialect (PostgreSQL when pg),
// with the UPDATE of the changed columns, in any order: a save of the
// store writes the columns that changed, in the table's order. A column
// that is not one of cardcore_cards or never changes is an error.
func CeilingSQL(pg bool, changed []string) (CeilingStatements, error) {
	d := sqlText{pg: pg}
	var cols []int
	for i, c := range cardTable {
		if slices.Contains(changed, c.name) {
			if c.imm {
				return CeilingStatements{}, fmt.Errorf("bunstore: column %s never changes", c.name)
			}
			cols = append(cols, i)
		}
	}
	if len(cols) != len(changed) {
		return CeilingStatements{}, fmt.Errorf("bunstore: %v are not all columns of cardcore_cards", changed)
	}
	s := CeilingStatements{
		Columns:          strings.Split(cardColumnList, ", "),
		SelectCard:       d.selectCard(false),
		SelectCardLocked: d.selectCard(true),
		InsertEvent:      d.insertEvent(),
		EventColumns:     slices.Clone(eventInsert.cols),
		Update:           d.updateCard(cols),
		TimeArg:          func(t time.Time) any { return d.time(t, false) },
	}
	if !pg {
		s.Columns = append(s.Columns, "last_seq")
		s.InsertEvent = d.insertEventChained()
		s.EventColumns = append(s.EventColumns, "prev_seq")
		s.Update = d.updateCardChained(cols)
	}
	for _, i := range cols {
		s.UpdateColumns = append(s.UpdateColumns, cardTable[i].name)
	}
	if pg {
		s.SaveWithEvent = d.saveWithEventChecked(cols)
	} else {
		s.WriteLock = writeLock
	}
	return s, nil
}

// CeilingBeginRead begins a transaction on conn, a connection of pgx's
// database/sql driver, and reads the row of query (SelectCardLocked) with
// org and id into dests, in one pipeline, as the store begins its
// PostgreSQL transactions (pgxtx.go). The transaction is left open on
// conn: its statements are the caller's, and so are its COMMIT and
// ROLLBACK.
func CeilingBeginRead(ctx context.Context, conn *sql.Conn, query string, dests []any, org string, id int64) error {
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(pgxConner)
		if !ok {
			return fmt.Errorf("bunstore: the PostgreSQL driver is %T, not pgx's", dc)
		}
		return pipelineBeginRow(ctx, pc.Conn(), query, org, id, func(rr *pgconn.ResultReader) error {
			return firstRow{pgx.RowsFromResultReader(pc.Conn().TypeMap(), rr)}.Scan(dests...)
		})
	})
}

// CeilingSaveCommit sends query (SaveWithEvent) with args and COMMIT on
// conn, a connection of pgx's database/sql driver in the transaction of
// CeilingBeginRead, in one pipeline, as the store ends a transaction whose
// last statement is the save of a card it read (pgxtx.go's deferSave).
func CeilingSaveCommit(ctx context.Context, conn *sql.Conn, query string, args []any) error {
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(pgxConner)
		if !ok {
			return fmt.Errorf("bunstore: the PostgreSQL driver is %T, not pgx's", dc)
		}
		saveErr, err := pipelineSaveCommit(ctx, pc.Conn(), query, args)
		if saveErr != nil {
			return saveErr
		}
		return err
	})
}

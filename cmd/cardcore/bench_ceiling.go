package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cardcore/cardcore/noname"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The ceiling of a bulk start: the same card rows and event rows written
// raw into cardcore's own migrated tables, with the fastest statements of
// each database (PostgreSQL: pgx's COPY; SQLite: multi-row INSERTs), in
// one transaction, with none of the library's work (no use case, no
// bulk row, no external ids read, no event built through package events).
// The raw-SQL baseline writes lighter rows into a lighter schema; this is
// what the same work costs at best on this machine, so the bulk is judged
// against it (issue 12).
//
// The rows are those of a real bulk start: a bulk of one card is started
// through the library first, its card row and event row are read back
// column by column, and every row of the measurement is that template
// with its own id, token (a version 7 UUID, as the store makes them),
// bulk, external id and event id (the event's data carries the same
// values). The columns are read from the tables, so the measurement
// follows the migrations.

// ceiling measures the raw writing of n noname cards and their events.
func (b *bench) ceiling(ctx context.Context) ([]benchResult, error) {
	tpl, err := b.ceilingTemplate(ctx)
	if err != nil {
		return nil, err
	}
	var best benchResult
	for _, rows := range b.cfg.ceilingRows {
		if err := b.settle(ctx); err != nil {
			return nil, err
		}
		name := "bulk-ceiling"
		if len(b.cfg.ceilingRows) > 1 {
			name += "-" + strconv.Itoa(rows) + "rows"
		}
		prof := b.profile(name) // the writing only, not the settling or the count
		bulk := "ceiling-" + randomHex(8)
		prof.start()
		t0 := time.Now()
		if b.kind == "postgres" {
			err = b.ceilingCopy(ctx, tpl, bulk)
		} else {
			err = b.ceilingInsert(ctx, tpl, bulk, rows)
		}
		elapsed := time.Since(t0)
		if perr := prof.stop(); err == nil {
			err = perr
		}
		if err != nil {
			return nil, err
		}
		var got int
		if err := b.db.NewSelect().TableExpr("cardcore_cards").ColumnExpr("count(*)").Where("bulk_id = ?", bulk).Scan(ctx, &got); err != nil {
			return nil, err
		}
		if got != b.cfg.n {
			return nil, fmt.Errorf("ceiling: %d cards written, want %d", got, b.cfg.n)
		}
		r := benchResult{DB: b.kind, Workload: "bulk-ceiling", Workers: 1,
			OpsPerS: round1(float64(b.cfg.n) / elapsed.Seconds()), P50us: micros(elapsed), P99us: micros(elapsed),
			PeakRSSMiB: peakRSSMiB(), Unit: "cards/s (raw, cardcore's tables)", Ops: int64(b.cfg.n), Secs: round3(elapsed.Seconds())}
		b.log.Info("ceiling", "db", b.kind, "rows_per_insert", rows, "cards_per_s", r.OpsPerS)
		if r.OpsPerS > best.OpsPerS {
			best = r
		}
	}
	return []benchResult{best}, nil
}

// rowTemplate is a row read back: its columns and values, and which of
// them the measurement varies.
type rowTemplate struct {
	cols []string
	vals []any
}

// index is the position of col among t's columns, -1 when absent.
func (t *rowTemplate) index(col string) int { return slices.Index(t.cols, col) }

// ceilingTpl is a card row and its event row, with the event's data cut
// where the card's own values go.
type ceilingTpl struct {
	card, event rowTemplate
	data        []string // the data's literal pieces; between two comes a value, named by the piece's first byte
	org         string
}

// The markers of the data template: the card's id, token, bulk and
// external id.
const (
	markID    = 'I'
	markToken = 'T'
	markBulk  = 'B'
	markExt   = 'E'
)

const ceilingExt = "ceiling-template-external-id"

func (b *bench) ceilingTemplate(ctx context.Context) (*ceilingTpl, error) {
	org := "bench-" + randomHex(4)
	bulk, err := b.noname.Create(ctx, noname.CreateRequest{OrgID: org, ExternalIDs: []string{ceilingExt}})
	if err != nil {
		return nil, err
	}
	if _, err := b.noname.Start(ctx, org, bulk.ID); err != nil {
		return nil, err
	}
	tpl := &ceilingTpl{org: org}
	ph := "?"
	if b.kind == "postgres" {
		ph = "$1"
	}
	if err := b.readRow(ctx, &tpl.card, "cardcore_cards", "bulk_id = "+ph, bulk.ID); err != nil {
		return nil, err
	}
	id, token := tpl.card.vals[tpl.card.index("id")], tpl.card.vals[tpl.card.index("token")]
	if err := b.readRow(ctx, &tpl.event, "cardcore_outbox", "card_id = "+ph, id); err != nil {
		return nil, err
	}
	// The rows the measurement writes get their seq and feed position as
	// the library's do: on PostgreSQL from the table's default and the
	// sequencer; on SQLite the seq is taken with the ids, and each card's
	// last_seq names its event's seq (the trigger of the card chain then
	// has nothing to do), and prev_seq is left NULL.
	skips := []string{"seq", "feed_pos"}
	if b.kind != "postgres" {
		skips = []string{"prev_seq"}
	}
	for _, skip := range skips {
		if i := tpl.event.index(skip); i >= 0 {
			tpl.event.cols = append(tpl.event.cols[:i], tpl.event.cols[i+1:]...)
			tpl.event.vals = append(tpl.event.vals[:i], tpl.event.vals[i+1:]...)
		}
	}
	data, ok := tpl.event.vals[tpl.event.index("data")].(string)
	if !ok {
		return nil, errors.New("ceiling: the event's data is not text")
	}
	idText := fmt.Sprint(id)
	data = strings.NewReplacer(
		`"card_id":`+idText+`,`, `"card_id":`+"\x00"+string(markID)+`,`,
		`"`+fmt.Sprint(token)+`"`, `"`+"\x00"+string(markToken)+`"`,
		`"`+bulk.ID+`"`, `"`+"\x00"+string(markBulk)+`"`,
		`"`+ceilingExt+`"`, `"`+"\x00"+string(markExt)+`"`,
	).Replace(data)
	tpl.data = strings.Split(data, "\x00")
	if len(tpl.data) < 3 {
		return nil, fmt.Errorf("ceiling: the event data %s names neither the card's id nor its external id", data)
	}
	return tpl, nil
}

// readRow reads the one row of table where cond holds into t, every
// column: on SQLite as the text (or NULL) it is stored as, which the
// columns' affinity stores back as it was; on PostgreSQL as pgx decodes
// it, which COPY encodes back.
func (b *bench) readRow(ctx context.Context, t *rowTemplate, table, cond string, arg any) error {
	rows, err := b.db.DB.QueryContext(ctx, "SELECT * FROM "+table+" WHERE "+cond+" LIMIT 0", arg)
	if err != nil {
		return err
	}
	t.cols, err = rows.Columns()
	rows.Close()
	if err != nil {
		return err
	}
	sel := strings.Join(t.cols, ", ")
	if b.kind != "postgres" {
		casts := make([]string, len(t.cols))
		for i, c := range t.cols {
			casts[i] = "CAST(" + c + " AS TEXT)"
		}
		sel = strings.Join(casts, ", ")
	}
	t.vals = make([]any, len(t.cols))
	dst := make([]any, len(t.cols))
	for i := range dst {
		dst[i] = &t.vals[i]
	}
	return b.db.DB.QueryRowContext(ctx, "SELECT "+sel+" FROM "+table+" WHERE "+cond, arg).Scan(dst...)
}

// ceilingRow fills card and event with row i of the measurement: the
// templates with card id id and the row's own values.
func (tpl *ceilingTpl) row(card, event []any, id, seq int64, bulk string, i int, buf []byte) []byte {
	copy(card, tpl.card.vals)
	copy(event, tpl.event.vals)
	token := uuid.Must(uuid.NewV7()).String() // as the store makes a token
	ext := "ext-" + strconv.Itoa(i)
	set := func(t *rowTemplate, dst []any, col string, v any) {
		if j := t.index(col); j >= 0 {
			dst[j] = v
		}
	}
	set(&tpl.card, card, "id", id)
	set(&tpl.card, card, "token", token)
	set(&tpl.card, card, "bulk_id", bulk)
	set(&tpl.card, card, "external_id", ext)
	set(&tpl.event, event, "event_id", uuid.NewString())
	set(&tpl.event, event, "card_id", id)
	set(&tpl.card, card, "last_seq", seq) // SQLite's columns only
	set(&tpl.event, event, "seq", seq)
	buf = append(buf[:0], tpl.data[0]...)
	for _, piece := range tpl.data[1:] {
		switch piece[0] {
		case markID:
			buf = strconv.AppendInt(buf, id, 10)
		case markToken:
			buf = append(buf, token...)
		case markBulk:
			buf = append(buf, bulk...)
		case markExt:
			buf = append(buf, ext...)
		}
		buf = append(buf, piece[1:]...)
	}
	set(&tpl.event, event, "data", string(buf))
	return buf
}

// ceilingCopy writes the rows with pgx's COPY, cards then events, in one
// transaction on one connection, the ids reserved from the identity
// sequence in one call.
func (b *bench) ceilingCopy(ctx context.Context, tpl *ceilingTpl, bulk string) error {
	conn, err := b.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		n := b.cfg.n
		var first int64
		err = tx.QueryRow(ctx, `WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('cardcore_cards', 'id')::regclass AS seq)
			SELECT setval(s.seq, nextval(s.seq) + $1 - 1) - $1 + 1 FROM s`, n).Scan(&first)
		if err != nil {
			return err
		}
		cardVals, eventVals := make([]any, len(tpl.card.cols)), make([]any, len(tpl.event.cols))
		var buf []byte
		next := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if next == n {
				return nil, nil
			}
			buf = tpl.row(cardVals, eventVals, first+int64(next), 0, bulk, next, buf)
			next++
			return cardVals, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cardcore_cards"}, tpl.card.cols, src); err != nil {
			return err
		}
		next = 0
		src = pgx.CopyFromFunc(func() ([]any, error) {
			if next == n {
				return nil, nil
			}
			buf = tpl.row(cardVals, eventVals, first+int64(next), 0, bulk, next, buf)
			next++
			return eventVals, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cardcore_outbox"}, tpl.event.cols, src); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// ceilingInsert writes the rows with multi-row INSERTs of rows rows each,
// prepared once, a statement of cards then one of their events, in one
// transaction that holds the write lock from its start.
func (b *bench) ceilingInsert(ctx context.Context, tpl *ceilingTpl, bulk string, rows int) error {
	rows = min(rows, 32766/len(tpl.card.cols))
	tx, err := b.db.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var first, firstSeq int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) + 1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM cardcore_outbox) FROM cardcore_cards").Scan(&first, &firstSeq); err != nil {
		return err
	}
	prepare := func(table string, cols []string, m int) (*sql.Stmt, error) {
		var s strings.Builder
		s.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		for i := range m {
			if i > 0 {
				s.WriteString(", ")
			}
			s.WriteString(one)
		}
		return tx.PrepareContext(ctx, s.String())
	}
	n := b.cfg.n
	cardVals, eventVals := make([]any, len(tpl.card.cols)), make([]any, len(tpl.event.cols))
	cardArgs := make([]any, 0, rows*len(cardVals))
	eventArgs := make([]any, 0, rows*len(eventVals))
	var buf []byte
	var cs, es *sql.Stmt
	for done := 0; done < n; done += rows {
		m := min(rows, n-done)
		if cs == nil || m != rows {
			if cs, err = prepare("cardcore_cards", tpl.card.cols, m); err != nil {
				return err
			}
			defer cs.Close()
			if es, err = prepare("cardcore_outbox", tpl.event.cols, m); err != nil {
				return err
			}
			defer es.Close()
		}
		cardArgs, eventArgs = cardArgs[:0], eventArgs[:0]
		for i := done; i < done+m; i++ {
			buf = tpl.row(cardVals, eventVals, first+int64(i), firstSeq+int64(i), bulk, i, buf)
			cardArgs = append(cardArgs, cardVals...)
			eventArgs = append(eventArgs, eventVals...)
		}
		if _, err := cs.ExecContext(ctx, cardArgs...); err != nil {
			return err
		}
		if _, err := es.ExecContext(ctx, eventArgs...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

package bunstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// A card's row read as PostgreSQL sends it.
//
// pgx scans a row through its type map: for each column of each row it
// plans the scan (the column's type, then the destination's scanner
// interfaces), decodes the value into one of its types (pgtype.Text,
// pgtype.Int8, pgtype.Timestamptz) and hands that to the destination's
// scanner method; each text column becomes a string of its own. A card is
// 39 columns of four kinds (text, integer, boolean, timestamp) whose types
// the store's migrations chose. So the store reads a card's row itself:
// the values, all in binary format, go straight into the cardRow, and the
// row's text is one allocation that its strings share. That took a card
// read from 24 allocations to 10 (TestPgxCardAllocations), and its time
// on one connection down by about 8% (BenchmarkPgxCard).
//
// The types come from the statement's description, which pgx read when it
// prepared the statement on the connection. A column of a type that
// decodeCardRow does not know (a table someone altered by hand, say) is no
// error: the row is then scanned through pgx's type map, as before.

// binaryResults asks for every column of a result in binary format.
var binaryResults = []int16{pgtype.BinaryFormatCode}

// cardArgFormats are the formats of a card read's arguments in
// cardArgs: org as text, id as a binary int8.
var cardArgFormats = []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode}

// queryCard reads one card with query (a selectCard text), org and id on
// pc, as scanCard reads it: the statement prepared on the connection once
// (pgx's Prepare keeps it by its text), its row decoded by readCard.
func queryCard(ctx context.Context, pc *pgx.Conn, query, org string, id int64) (r cardRow, c card.Card, scanned bool, err error) {
	sd, err := pc.Prepare(ctx, query, query)
	if err != nil {
		return r, c, false, err
	}
	args, formats, err := cardArgs(pc, sd, org, id)
	if err != nil {
		return r, c, false, err
	}
	r, c, scanned, err = readCard(pc.TypeMap(), pc.PgConn().ExecStatement(ctx, sd, args, formats, binaryResults))
	forgetStale(ctx, pc, query, err)
	return r, c, scanned, err
}

// cardArgs encodes org and id, the arguments of the prepared card read
// sd: org as text, id as a binary int8, when PostgreSQL gave the
// parameters those types, as it does for the store's tables; otherwise
// through pgx's type map.
func cardArgs(pc *pgx.Conn, sd *pgconn.StatementDescription, org string, id int64) ([][]byte, []int16, error) {
	if len(sd.ParamOIDs) == 2 && sd.ParamOIDs[0] == pgtype.TextOID && sd.ParamOIDs[1] == pgtype.Int8OID {
		b := binary.BigEndian.AppendUint64(append(make([]byte, 0, len(org)+8), org...), uint64(id)) // one allocation for both
		return [][]byte{b[:len(org)], b[len(org):]}, cardArgFormats, nil
	}
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(pc.TypeMap(), sd, []any{org, id}); err != nil {
		return nil, nil, err
	}
	return eqb.ParamValues, eqb.ParamFormats, nil
}

// forgetStale deallocates the statement query on pc when err is
// staleStatement's: the next use prepares it again, as pgx's statement
// cache does for the statements it keeps. In an aborted transaction as
// outside one: the Close message is no SQL statement.
func forgetStale(ctx context.Context, pc *pgx.Conn, query string, err error) {
	if staleStatement(err) {
		_ = pc.Deallocate(ctx, query)
	}
}

// staleStatement reports whether err says that PostgreSQL no longer runs a
// statement as the connection prepared it: a column of its result changed
// type since (0A000, "cached plan must not change result type"), or the
// server does not have it (26000).
func staleStatement(err error) bool {
	if err == nil {
		return false // before errors.As, whose target would escape: an allocation per read
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	// 0A000 is feature_not_supported at large: only the plan cache's, known
	// by its routine (its message is translated under lc_messages).
	return pe.Code == "26000" || pe.Code == "0A000" && (pe.Routine == "RevalidateCachedQuery" ||
		strings.HasPrefix(pe.Message, "cached plan must not change result type"))
}

// readCard reads the first row of rr, the result of a selectCard
// statement asked in binary format, as scanCard reads a row, and closes
// rr. No row is pgx.ErrNoRows; rows after the first are read and ignored,
// as pgx's QueryRow does.
func readCard(m *pgtype.Map, rr *pgconn.ResultReader) (r cardRow, c card.Card, scanned bool, err error) {
	fields := rr.FieldDescriptions()
	if !decodable(fields) {
		return sqlText{pg: true}.scanCard(firstRow{pgx.RowsFromResultReader(m, rr)})
	}
	var derr error
	found := rr.NextRow()
	if found {
		derr = decodeCardRow(&r, fields, rr.Values())
	}
	if _, err := rr.Close(); err != nil {
		return r, c, false, err
	}
	switch {
	case !found:
		return r, c, false, pgx.ErrNoRows
	case derr != nil:
		return r, c, false, derr
	}
	return finishCard(r)
}

// decodable reports whether decodeCardRow reads rows described by
// fields: cardReadColumns, each in binary format and of a type its kind
// decodes.
func decodable(fields []pgconn.FieldDescription) bool {
	if len(fields) != len(cardReadColumns) {
		return false
	}
	for i, f := range fields {
		if f.Format != pgtype.BinaryFormatCode || !cardReadColumns[i].kind.decodes(f.DataTypeOID) {
			return false
		}
	}
	return true
}

// decodeCardRow writes values, a row of cardReadColumns in binary format
// (nil for NULL) described by fields (decodable), into r. NULL reads as
// the zero value, as the scan destinations read it.
func decodeCardRow(r *cardRow, fields []pgconn.FieldDescription, values [][]byte) error {
	if len(values) != len(cardReadColumns) {
		return fmt.Errorf("bunstore: a card's row of %d columns, want %d", len(values), len(cardReadColumns))
	}
	n := 0
	for i, c := range cardReadColumns {
		if c.kind == textKind {
			n += len(values[i])
		}
	}
	var b strings.Builder
	b.Grow(n)
	for i, c := range cardReadColumns {
		if c.kind == textKind {
			b.Write(values[i])
		}
	}
	text, at := b.String(), 0
	for i, c := range cardReadColumns {
		v := values[i]
		if c.kind == textKind {
			*c.text(r) = text[at : at+len(v)]
			at += len(v)
			continue
		}
		if err := c.decode(r, fields[i].DataTypeOID, v); err != nil {
			return fmt.Errorf("bunstore: column %s: %w", c.name, err)
		}
	}
	return nil
}

// columnKind is what a column holds, for decodeCardRow.
type columnKind uint8

const (
	textKind columnKind = iota
	intKind
	boolKind
	timeKind
)

// decodes reports whether values of the type oid, in binary format, are
// read for a column of kind k.
func (k columnKind) decodes(oid uint32) bool {
	switch k {
	case textKind: // binary text is the text itself
		return oid == pgtype.TextOID || oid == pgtype.VarcharOID || oid == pgtype.BPCharOID
	case intKind:
		return oid == pgtype.Int8OID || oid == pgtype.Int4OID || oid == pgtype.Int2OID
	case boolKind:
		return oid == pgtype.BoolOID
	case timeKind:
		return oid == pgtype.TimestamptzOID || oid == pgtype.TimestampOID
	}
	return false
}

// pgInt reads a binary int8, int4 or int2.
func pgInt(oid uint32, v []byte) (int64, error) {
	switch {
	case oid == pgtype.Int8OID && len(v) == 8:
		return int64(binary.BigEndian.Uint64(v)), nil
	case oid == pgtype.Int4OID && len(v) == 4:
		return int64(int32(binary.BigEndian.Uint32(v))), nil
	case oid == pgtype.Int2OID && len(v) == 2:
		return int64(int16(binary.BigEndian.Uint16(v))), nil
	}
	return 0, fmt.Errorf("%d bytes for an integer of type %d", len(v), oid)
}

// pgBool reads a binary boolean.
func pgBool(v []byte) (bool, error) {
	if len(v) != 1 {
		return false, fmt.Errorf("%d bytes for a boolean", len(v))
	}
	return v[0] != 0, nil
}

// pgEpoch is PostgreSQL's epoch, 2000-01-01 00:00:00 UTC, in Unix seconds.
const pgEpoch = 946684800

// pgTime reads a binary timestamptz or timestamp (microseconds since
// pgEpoch; a timestamp without time zone read as UTC) as utc gives it.
// PostgreSQL's infinities are an error, as pgx's scan into a time makes
// them.
func pgTime(v []byte) (time.Time, error) {
	if len(v) != 8 {
		return time.Time{}, fmt.Errorf("%d bytes for a timestamp", len(v))
	}
	us := int64(binary.BigEndian.Uint64(v))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, errors.New("cannot scan an infinite timestamp into a time")
	}
	return utc(time.Unix(pgEpoch+us/1e6, us%1e6*1e3)), nil
}

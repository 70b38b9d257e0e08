package bunstore

import (
	"context"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestCardReadIsDecodedByTheStore checks that the store's own card read on
// PostgreSQL takes the store's decoding (decodeCardRow), not pgx's scan:
// on the migrated table, every column of the prepared read is of a type
// its kind decodes. Were a migration to give a column a type the decoder
// does not know, reads would still be right (TestPgxCardAfterAlteredColumns),
// only slower, and this test would say so.
func TestCardReadIsDecodedByTheStore(t *testing.T) {
	db := openForPlan(t, "postgres")
	conn, err := db.DB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{newQueries(true).card, newQueries(true).cardLocked} {
		err = conn.Raw(func(dc any) error {
			sd, err := dc.(pgxConner).Conn().Prepare(t.Context(), q, q)
			if err != nil {
				return err
			}
			fields := make([]pgconn.FieldDescription, len(sd.Fields))
			for i, f := range sd.Fields {
				f.Format = pgtype.BinaryFormatCode
				fields[i] = f
				if c := cardReadColumns[i]; f.Name != c.name || !c.kind.decodes(f.DataTypeOID) {
					t.Errorf("column %d of the read is %s of type %d, want %s of a type its kind decodes", i, f.Name, f.DataTypeOID, c.name)
				}
			}
			if !decodable(fields) {
				t.Errorf("%s: not decodable", q)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPgxCardAfterAlteredColumns alters two columns of the card table under
// a connection that has its read prepared: token to varchar, which the
// store's decoding reads, and pin_length to numeric, which it does not.
// The prepared read then fails once on its connection (PostgreSQL: cached
// plan must not change result type) and is deallocated, so the next read
// prepares it again; the store's read outside a transaction sends it again
// at once, and Update runs a transaction whose read failed so again
// (Retryable). All then read the row as written, through pgx's scan, since
// numeric is no type the store decodes.
func TestPgxCardAfterAlteredColumns(t *testing.T) {
	db := openForPlan(t, "postgres")
	ctx := t.Context()
	full, _ := fullAndSparseRows()
	if _, err := db.NewInsert().Model(&full).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := newQueries(true).card
	read := func() (cardRow, error) {
		r, _, _, _, err := pgxCard(ctx, conn, q, full.OrgID, full.ID)
		r.chain, r.ExpiryDue, r.ValidityDue, r.AliasKey, r.BulkStatus = chainLink{}, time.Time{}, time.Time{}, "", ""
		return r, err
	}
	if _, err := read(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "ALTER TABLE cardcore_cards ALTER COLUMN token TYPE varchar(64), ALTER COLUMN pin_length TYPE numeric"); err != nil {
		t.Fatal(err)
	}
	if _, err := read(); !staleStatement(err) {
		t.Fatalf("the first read after the ALTER: err %v, want PostgreSQL's cached plan error", err)
	}
	got, err := read()
	if err != nil {
		t.Fatalf("the second read after the ALTER (the statement prepared again): %v", err)
	}
	if !reflect.DeepEqual(got, full) {
		t.Errorf("read after the ALTER:\n got %+v\nwant %+v", got, full)
	}
	conn.Close()

	// The store's read on the pool: the pool's one connection had the read
	// prepared before the second ALTER.
	s, err := New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Card(ctx, full.OrgID, full.ID); err != nil {
		t.Fatal(err)
	}
	inTx := func() (card.Card, error) {
		var c card.Card
		err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) (err error) {
			c, err = tx.Card(ctx, full.OrgID, full.ID)
			return err
		})
		return c, err
	}
	if _, err := inTx(); err != nil { // the locked read prepared too
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ALTER TABLE cardcore_cards ALTER COLUMN pin_length TYPE bigint"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Card(ctx, full.OrgID, full.ID)
	if err != nil {
		t.Fatalf("the store's read after the ALTER: %v", err)
	}
	if c.PINLength != full.PINLength || c.Token != full.Token {
		t.Errorf("the store's read after the ALTER: pin length %d, token %q, want %d, %q", c.PINLength, c.Token, full.PINLength, full.Token)
	}
	// Update runs the transaction again: the first run's stale read is
	// Retryable, and was deallocated.
	if c, err = inTx(); err != nil {
		t.Fatalf("a transaction's read after the ALTER: %v", err)
	}
	if c.PINLength != full.PINLength || c.Token != full.Token {
		t.Errorf("a transaction's read after the ALTER: pin length %d, token %q, want %d, %q", c.PINLength, c.Token, full.PINLength, full.Token)
	}
}

// TestDecodeCardRow decodes rows as PostgreSQL would send them in binary
// format: integers of each width, timestamps with and without time zone
// either side of PostgreSQL's epoch and Unix's, NULLs as zero values, and
// values whose size or type is wrong as errors naming their column.
func TestDecodeCardRow(t *testing.T) {
	be := binary.BigEndian
	us := func(t time.Time) []byte { // microseconds since 2000-01-01 UTC
		return be.AppendUint64(nil, uint64(t.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds()))
	}
	row := func(set func(name string) (oid uint32, v []byte, ok bool)) ([]pgconn.FieldDescription, [][]byte) {
		fields := make([]pgconn.FieldDescription, len(cardReadColumns))
		values := make([][]byte, len(cardReadColumns))
		for i, c := range cardReadColumns {
			oid, v, ok := set(c.name)
			if !ok { // NULL, of the kind's first type
				oid, v = map[columnKind]uint32{textKind: pgtype.TextOID, intKind: pgtype.Int8OID, boolKind: pgtype.BoolOID, timeKind: pgtype.TimestamptzOID}[c.kind], nil
			}
			fields[i] = pgconn.FieldDescription{Name: c.name, DataTypeOID: oid, Format: pgtype.BinaryFormatCode}
			values[i] = v
		}
		return fields, values
	}
	before2000 := time.Date(1999, 12, 31, 23, 59, 59, 500000000, time.UTC)
	before1970 := time.Date(1901, 2, 3, 4, 5, 6, 7000, time.UTC)
	after := time.Date(2026, 12, 7, 20, 30, 0, 1000, time.UTC)
	fields, values := row(func(name string) (uint32, []byte, bool) {
		switch name {
		case "id":
			return pgtype.Int8OID, be.AppendUint64(nil, 1<<40+7), true
		case "program_id":
			return pgtype.Int4OID, be.AppendUint32(nil, uint32(0xFFFFFFFF)), true // -1
		case "track_number":
			return pgtype.Int2OID, be.AppendUint16(nil, 3), true
		case "cvv_rotation_interval_hours":
			return pgtype.Int4OID, be.AppendUint32(nil, 12), true
		case "token":
			return pgtype.VarcharOID, []byte("tok"), true
		case "status":
			return pgtype.TextOID, []byte("NORMAL"), true
		case "name":
			return pgtype.TextOID, []byte{}, true // empty, not NULL
		case "issuing_date":
			return pgtype.TimestamptzOID, us(before2000), true
		case "activation_date":
			return pgtype.TimestampOID, us(before1970), true
		case "created_at":
			return pgtype.TimestamptzOID, us(after), true
		case "synced":
			return pgtype.BoolOID, []byte{1}, true
		}
		return 0, nil, false
	})
	if !decodable(fields) {
		t.Fatal("the row is not decodable")
	}
	var r cardRow
	r.PINLength, r.Metadata = 9, "old" // NULL overwrites what was there
	if err := decodeCardRow(&r, fields, values); err != nil {
		t.Fatal(err)
	}
	twelve := 12
	want := cardRow{ID: 1<<40 + 7, ProgramID: -1, TrackNumber: 3, CVVRotationIntervalHours: &twelve, Token: "tok",
		Status: "NORMAL", IssuingDate: before2000, ActivationDate: before1970, CreatedAt: after, Synced: true}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("decoded\n got %+v\nwant %+v", r, want)
	}

	for _, bad := range []struct {
		name, col string
		oid       uint32
		v         []byte
	}{
		{"an int8 of 4 bytes", "version", pgtype.Int8OID, []byte{0, 0, 0, 1}},
		{"a boolean of 2 bytes", "contactless_enabled", pgtype.BoolOID, []byte{0, 1}},
		{"a timestamp of 4 bytes", "updated_at", pgtype.TimestamptzOID, []byte{0, 0, 0, 1}},
		{"infinity", "close_date", pgtype.TimestamptzOID, be.AppendUint64(nil, 1<<63-1)},
		{"-infinity", "close_date", pgtype.TimestamptzOID, be.AppendUint64(nil, 1<<63)},
	} {
		fields, values := row(func(name string) (uint32, []byte, bool) { return bad.oid, bad.v, name == bad.col })
		err := decodeCardRow(&cardRow{}, fields, values)
		if err == nil || !strings.Contains(err.Error(), "column "+bad.col) {
			t.Errorf("%s in %s: err %v, want an error naming the column", bad.name, bad.col, err)
		}
	}

	// A column of a type the store does not decode leaves the row to pgx.
	fields, _ = row(func(name string) (uint32, []byte, bool) { return pgtype.NumericOID, nil, name == "pin_length" })
	if decodable(fields) {
		t.Error("a numeric pin_length is decodable, want it left to pgx's scan")
	}
	fields, _ = row(func(string) (uint32, []byte, bool) { return 0, nil, false })
	fields[0].Format = pgtype.TextFormatCode
	if decodable(fields) {
		t.Error("a column in text format is decodable")
	}
	if decodable(fields[1:]) {
		t.Error("a row of one column less is decodable")
	}
	if err := decodeCardRow(&cardRow{}, fields[1:], make([][]byte, len(fields)-1)); err == nil {
		t.Error("a row of one column less decoded without an error")
	}
}

package bunstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// column is one column of cardcore_cards as the prepared statements read
// and write it: scan destination, argument and equality, all from one
// accessor of the cardRow field, so the three cannot disagree.
type column struct {
	name string
	dest func(r *cardRow) any            // a sql.Scanner writing the field
	arg  func(d sqlText, r *cardRow) any // the field as a statement argument
	same func(a, b *cardRow) bool        // whether two rows hold the same value
	imm  bool                            // never changes after insert
	// derived columns are computed from the others (cardRow.derive), so
	// reads skip them.
	derived bool
	// kind is what the column holds; for a text column, text is the
	// field, for the others decode writes a value as PostgreSQL sends it
	// in binary format (nil for NULL) with its type's oid (pgxdecode.go).
	kind   columnKind
	text   func(r *cardRow) *string
	decode func(r *cardRow, oid uint32, v []byte) error
}

// cardTable lists the columns of cardcore_cards in cardRow's field order;
// a test checks it against the bun tags.
var cardTable = []column{
	int64Col("id", func(r *cardRow) *int64 { return &r.ID }, false).immutable(),
	stringCol("token", func(r *cardRow) *string { return &r.Token }, false).immutable(),
	stringCol("org_id", func(r *cardRow) *string { return &r.OrgID }, false).immutable(),
	int64Col("program_id", func(r *cardRow) *int64 { return &r.ProgramID }, false),
	stringCol("account_id", func(r *cardRow) *string { return &r.AccountID }, false),
	stringCol("customer_id", func(r *cardRow) *string { return &r.CustomerID }, false),
	stringCol("type", func(r *cardRow) *string { return &r.Type }, false),
	stringCol("mode", func(r *cardRow) *string { return &r.Mode }, false),
	stringCol("status", func(r *cardRow) *string { return &r.Status }, false),
	stringCol("previous_status", func(r *cardRow) *string { return &r.PreviousStatus }, false),
	stringCol("name", func(r *cardRow) *string { return &r.Name }, false),
	stringCol("printed_name", func(r *cardRow) *string { return &r.PrintedName }, false),
	stringCol("brand", func(r *cardRow) *string { return &r.Brand }, false),
	stringCol("bin", func(r *cardRow) *string { return &r.BIN }, false),
	stringCol("last4", func(r *cardRow) *string { return &r.Last4 }, false),
	stringCol("pan_hash", func(r *cardRow) *string { return &r.PANHash }, false),
	timeCol("issuing_date", func(r *cardRow) *time.Time { return &r.IssuingDate }, false),
	timeCol("expiration_date", func(r *cardRow) *time.Time { return &r.ExpirationDate }, true),
	timeCol("activation_date", func(r *cardRow) *time.Time { return &r.ActivationDate }, true),
	intCol("validity_period_hours", func(r *cardRow) *int { return &r.ValidityPeriodHours }),
	timeCol("valid_until", func(r *cardRow) *time.Time { return &r.ValidUntil }, true),
	intCol("track_number", func(r *cardRow) *int { return &r.TrackNumber }),
	int64Col("reissued_card_id", func(r *cardRow) *int64 { return &r.ReissuedCardID }, true),
	stringCol("bulk_id", func(r *cardRow) *string { return &r.BulkID }, true),
	stringCol("external_id", func(r *cardRow) *string { return &r.ExternalID }, true),
	boolCol("synced", func(r *cardRow) *bool { return &r.Synced }),
	timeCol("close_date", func(r *cardRow) *time.Time { return &r.CloseDate }, true),
	stringCol("metadata", func(r *cardRow) *string { return &r.Metadata }, true),
	stringCol("embossing_custom_field", func(r *cardRow) *string { return &r.EmbossingCustomField }, false),
	stringCol("embossing_group", func(r *cardRow) *string { return &r.EmbossingGroup }, false),
	intCol("pin_length", func(r *cardRow) *int { return &r.PINLength }),
	boolCol("contactless_enabled", func(r *cardRow) *bool { return &r.ContactlessEnabled }),
	stringCol("transaction_limit", func(r *cardRow) *string { return &r.TransactionLimit }, false),
	stringCol("template_id", func(r *cardRow) *string { return &r.TemplateID }, false),
	optIntCol("cvv_rotation_interval_hours", func(r *cardRow) **int { return &r.CVVRotationIntervalHours }),
	intCol("password_tries", func(r *cardRow) *int { return &r.PasswordTries }),
	int64Col("version", func(r *cardRow) *int64 { return &r.Version }, false),
	timeCol("created_at", func(r *cardRow) *time.Time { return &r.CreatedAt }, false).immutable(),
	timeCol("updated_at", func(r *cardRow) *time.Time { return &r.UpdatedAt }, false),
	timeCol("expiry_due", func(r *cardRow) *time.Time { return &r.ExpiryDue }, true).derive(),
	timeCol("validity_due", func(r *cardRow) *time.Time { return &r.ValidityDue }, true).derive(),
	stringCol("alias_key", func(r *cardRow) *string { return &r.AliasKey }, true).derive(),
	stringCol("bulk_status", func(r *cardRow) *string { return &r.BulkStatus }, true).derive(),
}

// cardColumnList is every column that is not derived, for SELECT.
var cardColumnList = selectList(false)

// sqliteCardColumnList is cardColumnList for SQLite, each column read as
// the expression +name AS "". SQLite's unary + returns any value as it
// is; an expression has no declared type and "" is no name, so modernc
// copies neither out of C for every column of every read (a card read
// alone: 185 allocations plain, 77 bare, with the time parsing), and hands over
// the text of a time column as the store wrote it, which timeDest reads
// in that one layout (parseTime) instead of trying its own list of
// layouts, a failed time.Parse before each match.
var sqliteCardColumnList = selectList(true)

// cardReadColumns are the columns that are not derived, in cardTable's
// order: those a card's read reads (selectCard), and decodeCardRow decodes.
var cardReadColumns = func() []column {
	var cols []column
	for _, c := range cardTable {
		if !c.derived {
			cols = append(cols, c)
		}
	}
	return cols
}()

// selectList lists cardReadColumns, as expressions without names when
// bare (see sqliteCardColumnList).
func selectList(bare bool) string {
	names := make([]string, len(cardReadColumns))
	for i, c := range cardReadColumns {
		names[i] = c.name
		if bare {
			names[i] = bareColumn(c.name)
		}
	}
	return strings.Join(names, ", ")
}

// bareColumn is column name as a SQLite expression without declared type
// or name.
func bareColumn(name string) string { return "+" + name + ` AS ""` }

func (c column) immutable() column { c.imm = true; return c }
func (c column) derive() column    { c.derived = true; return c }

// cardDests returns the scan destinations of r's cardReadColumns, in
// cardColumnList's order.
func cardDests(r *cardRow, dst []any) []any {
	for _, c := range cardReadColumns {
		dst = append(dst, c.dest(r))
	}
	return dst
}

// changedColumns lists the indexes in cardTable of the columns whose values
// differ between old and new. Version is always among them, as every save
// counts a change; ids, org, token and creation time never change.
func changedColumns(old, new *cardRow) []int {
	cols := make([]int, 0, 8)
	for i, c := range cardTable {
		if !c.imm && !c.same(old, new) {
			cols = append(cols, i)
		}
	}
	return cols
}

// mutableColumns is every column a save may change, for a card saved
// without having been read in the transaction.
var mutableColumns = func() []int {
	var cols []int
	for i, c := range cardTable {
		if !c.imm {
			cols = append(cols, i)
		}
	}
	return cols
}()

func stringCol(name string, f func(*cardRow) *string, nullzero bool) column {
	return column{name: name, kind: textKind, text: f,
		dest: func(r *cardRow) any { return stringDest{f(r)} },
		arg: func(_ sqlText, r *cardRow) any {
			if v := *f(r); v != "" || !nullzero {
				return v
			}
			return nil
		},
		same: func(a, b *cardRow) bool { return *f(a) == *f(b) },
	}
}

func int64Col(name string, f func(*cardRow) *int64, nullzero bool) column {
	return column{name: name, kind: intKind,
		dest: func(r *cardRow) any { return int64Dest{f(r)} },
		decode: func(r *cardRow, oid uint32, v []byte) (err error) {
			*f(r) = 0
			if v != nil {
				*f(r), err = pgInt(oid, v)
			}
			return err
		},
		arg: func(_ sqlText, r *cardRow) any {
			if v := *f(r); v != 0 || !nullzero {
				return v
			}
			return nil
		},
		same: func(a, b *cardRow) bool { return *f(a) == *f(b) },
	}
}

func intCol(name string, f func(*cardRow) *int) column {
	return column{name: name, kind: intKind,
		dest: func(r *cardRow) any { return intDest{f(r)} },
		decode: func(r *cardRow, oid uint32, v []byte) error {
			*f(r) = 0
			if v == nil {
				return nil
			}
			n, err := pgInt(oid, v)
			*f(r) = int(n)
			return err
		},
		arg:  func(_ sqlText, r *cardRow) any { return int64(*f(r)) },
		same: func(a, b *cardRow) bool { return *f(a) == *f(b) },
	}
}

func optIntCol(name string, f func(*cardRow) **int) column {
	return column{name: name, kind: intKind,
		dest: func(r *cardRow) any { return optIntDest{f(r)} },
		decode: func(r *cardRow, oid uint32, v []byte) error {
			*f(r) = nil
			if v == nil {
				return nil
			}
			n, err := pgInt(oid, v)
			if err == nil {
				i := int(n)
				*f(r) = &i
			}
			return err
		},
		arg: func(_ sqlText, r *cardRow) any {
			if p := *f(r); p != nil {
				return int64(*p)
			}
			return nil
		},
		same: func(a, b *cardRow) bool {
			pa, pb := *f(a), *f(b)
			return pa == pb || pa != nil && pb != nil && *pa == *pb
		},
	}
}

func boolCol(name string, f func(*cardRow) *bool) column {
	return column{name: name, kind: boolKind,
		dest: func(r *cardRow) any { return boolDest{f(r)} },
		decode: func(r *cardRow, _ uint32, v []byte) (err error) {
			*f(r) = false
			if v != nil {
				*f(r), err = pgBool(v)
			}
			return err
		},
		arg:  func(_ sqlText, r *cardRow) any { return *f(r) },
		same: func(a, b *cardRow) bool { return *f(a) == *f(b) },
	}
}

func timeCol(name string, f func(*cardRow) *time.Time, nullable bool) column {
	return column{name: name, kind: timeKind,
		dest: func(r *cardRow) any { return timeDest{f(r)} },
		decode: func(r *cardRow, _ uint32, v []byte) (err error) {
			*f(r) = time.Time{}
			if v != nil {
				*f(r), err = pgTime(v)
			}
			return err
		},
		arg:  func(d sqlText, r *cardRow) any { return d.time(*f(r), nullable) },
		same: func(a, b *cardRow) bool { return f(a).Equal(*f(b)) },
	}
}

// Scan destinations. Each holds one pointer, so it fits in an interface
// without an allocation; NULL scans as the zero value, as bun's nullzero
// does.
//
// Each is a sql.Scanner for database/sql, and also a scanner of pgx's own
// types (pgtype.TextScanner and the like) for the card read through pgx's
// API (pgxread.go). pgx plans a scan for each column of each row: for a
// sql.Scanner it allocates the plan and boxes each value for Scan(any)
// (DecodeDatabaseSQLValue), 39 plans and about 40 more allocations per
// card; for its own scanner interfaces the plans are empty structs
// (timestamps aside) and the values arrive unboxed.
type (
	stringDest struct{ p *string }
	int64Dest  struct{ p *int64 }
	intDest    struct{ p *int }
	optIntDest struct{ p **int }
	boolDest   struct{ p *bool }
	timeDest   struct{ p *time.Time }
)

func (d stringDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.p = ""
	case string:
		*d.p = v
	case []byte:
		*d.p = string(v)
	default:
		return fmt.Errorf("cannot scan %T into a string", v)
	}
	return nil
}

func (d int64Dest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.p = 0
	case int64:
		*d.p = v
	default:
		return fmt.Errorf("cannot scan %T into an integer", v)
	}
	return nil
}

func (d intDest) Scan(v any) error {
	var n int64
	if err := (int64Dest{&n}).Scan(v); err != nil {
		return err
	}
	*d.p = int(n)
	return nil
}

func (d optIntDest) Scan(v any) error {
	if v == nil {
		*d.p = nil
		return nil
	}
	n := new(int)
	if err := (intDest{n}).Scan(v); err != nil {
		return err
	}
	*d.p = n
	return nil
}

func (d boolDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.p = false
	case bool:
		*d.p = v
	case int64:
		*d.p = v != 0
	default:
		return fmt.Errorf("cannot scan %T into a boolean", v)
	}
	return nil
}

func (d timeDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.p = time.Time{}
	case time.Time:
		*d.p = utc(v)
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	default:
		return fmt.Errorf("cannot scan %T into a time", v)
	}
	return nil
}

func (d stringDest) ScanText(v pgtype.Text) error {
	*d.p = v.String // "" when NULL
	return nil
}

func (d int64Dest) ScanInt64(v pgtype.Int8) error {
	*d.p = v.Int64 // 0 when NULL
	return nil
}

func (d intDest) ScanInt64(v pgtype.Int8) error {
	*d.p = int(v.Int64)
	return nil
}

func (d optIntDest) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		*d.p = nil
		return nil
	}
	n := int(v.Int64)
	*d.p = &n
	return nil
}

func (d boolDest) ScanBool(v pgtype.Bool) error {
	*d.p = v.Bool // false when NULL
	return nil
}

func (d timeDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*d.p = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return fmt.Errorf("cannot scan an infinite timestamp into a time")
	default:
		*d.p = utc(v.Time)
	}
	return nil
}

// parse reads a time SQLite returned as text, in bun's format.
func (d timeDest) parse(s string) error {
	t, ok := parseTime(s)
	if !ok {
		var err error
		if t, err = time.Parse(sqliteTime, s); err != nil {
			return fmt.Errorf("cannot read time %q: %v", s, err)
		}
	}
	*d.p = utc(t)
	return nil
}

// parseTime reads s in sqliteTime's layout as the store writes it,
// 2006-01-02 15:04:05[.999999999]-07:00, without time.Parse's
// generality; ok is false for anything else, valid or not, which is
// then left to time.Parse.
func parseTime(s string) (t time.Time, ok bool) {
	if len(s) < len("2006-01-02 15:04:05-07:00") || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoi(s[0:4])
	month, ok2 := atoi(s[5:7])
	day, ok3 := atoi(s[8:10])
	hour, ok4 := atoi(s[11:13])
	minute, ok5 := atoi(s[14:16])
	sec, ok6 := atoi(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest, nsec := s[19:], 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return time.Time{}, false
		}
		nsec, _ = atoi(rest[1:n])
		for range 10 - n {
			nsec *= 10
		}
		rest = rest[n:]
	}
	if len(rest) != len("-07:00") || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return time.Time{}, false
	}
	oh, ok1 := atoi(rest[1:3])
	om, ok2 := atoi(rest[4:6])
	if !ok1 || !ok2 || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	offset := time.Duration(oh*60+om) * time.Minute
	if rest[0] == '-' {
		offset = -offset
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // February 30th and the like
		return time.Time{}, false
	}
	return t.Add(-offset), true
}

// atoi reads s, decimal digits only.
func atoi(s string) (int, bool) {
	n := 0
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

package bunstore

import (
	"fmt"
	"strings"
	"time"
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
var cardColumnList = func() string {
	var names []string
	for _, c := range cardTable {
		if !c.derived {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, ", ")
}()

func (c column) immutable() column { c.imm = true; return c }
func (c column) derive() column    { c.derived = true; return c }

// cardDests returns the scan destinations of the columns of r that are
// not derived, in cardColumnList's order.
func cardDests(r *cardRow, dst []any) []any {
	for _, c := range cardTable {
		if !c.derived {
			dst = append(dst, c.dest(r))
		}
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
	return column{name: name,
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
	return column{name: name,
		dest: func(r *cardRow) any { return int64Dest{f(r)} },
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
	return column{name: name,
		dest: func(r *cardRow) any { return intDest{f(r)} },
		arg:  func(_ sqlText, r *cardRow) any { return int64(*f(r)) },
		same: func(a, b *cardRow) bool { return *f(a) == *f(b) },
	}
}

func optIntCol(name string, f func(*cardRow) **int) column {
	return column{name: name,
		dest: func(r *cardRow) any { return optIntDest{f(r)} },
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
	return column{name: name,
		dest: func(r *cardRow) any { return boolDest{f(r)} },
		arg:  func(_ sqlText, r *cardRow) any { return *f(r) },
		same: func(a, b *cardRow) bool { return *f(a) == *f(b) },
	}
}

func timeCol(name string, f func(*cardRow) *time.Time, nullable bool) column {
	return column{name: name,
		dest: func(r *cardRow) any { return timeDest{f(r)} },
		arg:  func(d sqlText, r *cardRow) any { return d.time(*f(r), nullable) },
		same: func(a, b *cardRow) bool { return f(a).Equal(*f(b)) },
	}
}

// Scan destinations. Each holds one pointer, so it fits in an interface
// without an allocation; NULL scans as the zero value, as bun's nullzero
// does.
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

// parse reads a time SQLite returned as text, in bun's format.
func (d timeDest) parse(s string) error {
	t, err := time.Parse(sqliteTime, s)
	if err != nil {
		return fmt.Errorf("cannot read time %q: %v", s, err)
	}
	*d.p = utc(t)
	return nil
}

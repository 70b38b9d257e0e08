package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
)

// syncAnswer is the answer of the "Update cards" route.
type syncAnswer struct {
	RequestID string `json:"requestId"`
}

// syncCards is PUT /v2/data/customers/{sourceCustomerId}/accounts/{sourceAccountId}/cards
// (SPEC section 8): the batch is applied all or none.
func (a *api) syncCards(w http.ResponseWriter, r *http.Request, who principal) error {
	customer, account := r.PathValue("sourceCustomerId"), r.PathValue("sourceAccountId")
	if err := card.ValidateRef("sourceCustomerId", customer); err != nil {
		return err
	}
	if err := card.ValidateRef("sourceAccountId", account); err != nil {
		return err
	}
	var in struct {
		Cards []json.RawMessage `json:"cards"`
	}
	if err := decodeServerBody(w, r, who, &in); err != nil {
		return err
	}
	b := datasync.Batch{OrgID: who.org, SourceAccountID: account, SourceCustomerID: customer,
		Entries: make([]datasync.Entry, len(in.Cards))}
	for i, raw := range in.Cards {
		e, err := syncEntry(i, raw)
		if err != nil {
			return err
		}
		b.Entries[i] = e
	}
	id, err := a.core.Sync.Apply(r.Context(), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, syncAnswer{RequestID: id})
	return nil
}

// syncEntry reads entry i of the batch, field by field, so that a value of
// the wrong JSON type is named as cards[i].field. null is an absent field;
// unknown fields are ignored. The library checks the values.
func syncEntry(i int, raw json.RawMessage) (datasync.Entry, error) {
	e := datasync.Entry{Index: i}
	field := func(name string) string { return fmt.Sprintf("cards[%d].%s", i, name) }
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return e, invalid(fmt.Sprintf("cards[%d]", i), fmt.Sprintf("cards[%d] must be a JSON object", i))
	}
	str := func(name string) (*string, error) {
		v, ok := fields[name]
		if !ok || bytes.Equal(v, []byte("null")) {
			return nil, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, invalid(field(name), field(name)+" must be a string")
		}
		return &s, nil
	}
	date := func(name string) (*time.Time, error) {
		s, err := str(name)
		if s == nil || err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, *s)
		if err != nil {
			return nil, invalid(field(name), field(name)+" must be a date and time in RFC 3339 form, e.g. 2017-01-01T08:00:00Z")
		}
		return &t, nil
	}
	var err error
	var account, customer, last4 *string
	if account, err = str("sourceAccountId"); err != nil {
		return e, err
	}
	if customer, err = str("sourceCustomerId"); err != nil {
		return e, err
	}
	if last4, err = str("last4"); err != nil {
		return e, err
	}
	e.SourceAccountID, e.SourceCustomerID, e.Last4 = deref(account), deref(customer), deref(last4)
	if e.IIN, err = str("iin"); err != nil {
		return e, err
	}
	if e.CardType, err = str("cardType"); err != nil {
		return e, err
	}
	if e.Status, err = str("status"); err != nil {
		return e, err
	}
	if e.NetworkIdentifier, err = networkIdentifier(fields["networkIdentifier"], field("networkIdentifier")); err != nil {
		return e, err
	}
	if e.OpenDate, err = date("openDate"); err != nil {
		return e, err
	}
	if e.CloseDate, err = date("closeDate"); err != nil {
		return e, err
	}
	return e, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// networkIdentifier reads networkIdentifier: a JSON integer, or a string
// of decimal digits (the document types it as a string, its example sends
// a number). Absent or null is nil.
func networkIdentifier(v json.RawMessage, field string) (*int, error) {
	if v == nil || bytes.Equal(v, []byte("null")) {
		return nil, nil
	}
	s := string(v)
	if len(v) > 0 && v[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, invalid(field, field+" must be a number or a numeric string")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || !isDigits(s) {
		return nil, invalid(field, field+" must be a number or a numeric string: 3, 4, 5 or 6")
	}
	return &n, nil
}

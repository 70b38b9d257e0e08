package httpapi

// The harness, continued: what the API's bodies must hold (the seed's
// schemas, no nulls), and the steps most tests take through the API
// (create a card or a reason, read the feed).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/cardcore/cardcore/storage"
)

// noNulls fails when any value in the JSON is null (SPEC 7.1: absent
// optional fields are omitted, never null).
func noNulls(tb testing.TB, a answer) {
	tb.Helper()
	v, err := decodeJSON(a.raw)
	if err != nil {
		tb.Fatalf("%s: %v", a, err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case nil:
			tb.Errorf("%s: null at %q", a, path)
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("$", v)
}

// schemaKind names how a schema types a field.
type schemaKind int

const (
	kString schemaKind = iota
	kInteger
	kBool
	kObject
	kIDString  // {"id": string}
	kIDInteger // {"id": integer}
)

// updateCardStatusResponse are the properties of the seed's
// UpdateCardStatusResponse, typed as it types them.
var updateCardStatusResponse = map[string]schemaKind{
	"program": kIDString, "account": kIDString, "customer": kIDString, "org": kIDString,
	"id": kInteger, "hash": kString, "last_4_digits": kString, "first_4_digits": kString,
	"brand": kString, "number_of_transactions": kInteger, "bin": kString, "atc": kString,
	"status": kString, "previous_status": kString, "issuing_date": kString,
	"expiration_date": kString, "printed_name": kString, "name": kString, "tracking": kInteger,
	"track_number": kInteger, "migration_id": kString, "transaction_limit": kString,
	"password_tries": kInteger, "embossing_custom_field": kString, "contactless_enabled": kBool,
	"abu_enabled": kBool, "reissued_card_id": kInteger, "type": kString, "metadata": kObject,
	"template_id": kString, "valid_until": kString, "bulk_id": kString, "external_id": kString,
	"mode": kString, "dual_message_debit": kBool,
}

// reissueCardResponse are the properties of the seed's ReissueCardResponse,
// and the two SubmitReissue fields SPEC 12 has a reissue return
// (cvv_rotation_interval_hours, template_id).
var reissueCardResponse = map[string]schemaKind{
	"program": kIDString, "account": kIDInteger, "customer": kIDInteger, "org": kIDString,
	"id": kInteger, "status": kString, "issuing_date": kString, "expiration_date": kString,
	"printed_name": kString, "name": kString, "mode": kString, "track_number": kInteger,
	"transaction_limit": kString, "embossing_custom_field": kString, "contactless_enabled": kBool,
	"abu_enabled": kBool, "type": kString, "validity_period_hours": kInteger, "valid_until": kString,
	"cvv_rotation_interval_hours": kInteger, "template_id": kString,
}

// checkSchema checks that every field of m is a property of schema, typed
// as the schema types it, and that there is no null anywhere.
func checkSchema(tb testing.TB, a answer, m map[string]any, schema map[string]schemaKind, name string) {
	tb.Helper()
	noNulls(tb, a)
	for k, v := range m {
		kind, ok := schema[k]
		if !ok {
			tb.Errorf("%s: field %q is not a property of %s", a, k, name)
			continue
		}
		okType := false
		switch kind {
		case kString:
			_, okType = v.(string)
		case kBool:
			_, okType = v.(bool)
		case kObject:
			_, okType = v.(map[string]any)
		case kInteger:
			okType = isInteger(v)
		case kIDString, kIDInteger:
			o, isObj := v.(map[string]any)
			if isObj {
				if kind == kIDString {
					_, okType = o["id"].(string)
				} else {
					okType = isInteger(o["id"])
				}
			}
		}
		if !okType {
			tb.Errorf("%s: %s.%s = %#v is not typed as the schema says", a, name, k, v)
		}
	}
}

// wantCard checks a card body (create, get, status, activate, v2 read).
func (a answer) wantCard(tb testing.TB, status int) map[string]any {
	tb.Helper()
	m := a.want(tb, status)
	checkSchema(tb, a, m, updateCardStatusResponse, "UpdateCardStatusResponse")
	if s, ok := m["issuing_date"].(string); ok {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			tb.Errorf("%s: issuing_date %q is not RFC 3339", a, s)
		}
	}
	return m
}

// wantReissued checks a reissue's body, of a card of acct and cust.
func (a answer) wantReissued(tb testing.TB) map[string]any {
	tb.Helper()
	m := a.want(tb, http.StatusOK)
	checkSchema(tb, a, m, reissueCardResponse, "ReissueCardResponse")
	if integer(tb, m, "account.id") != 42 || integer(tb, m, "customer.id") != 7 {
		tb.Errorf("reissue body account/customer: %s", a)
	}
	return m
}

// wantBulk checks a bulk's body: id, program_id, status, external_ids count
// and cards, the non-zero counts per card status.
func (a answer) wantBulk(tb testing.TB, code int, status string, externalIDs int, cards map[string]int64) map[string]any {
	tb.Helper()
	m := a.want(tb, code)
	noNulls(tb, a)
	if str(tb, m, "id") == "" {
		tb.Errorf("bulk id is empty")
	}
	if _, ok := m["program_id"]; !ok {
		tb.Errorf("%s: no program_id", a)
	}
	if got := str(tb, m, "status"); got != status {
		tb.Errorf("%s: bulk status %s, want %s", a, got, status)
	}
	if got := integer(tb, m, "external_ids"); got != int64(externalIDs) {
		tb.Errorf("%s: external_ids %d, want %d", a, got, externalIDs)
	}
	counts := object(tb, m, "cards")
	if len(counts) != len(cards) {
		tb.Errorf("%s: cards %v, want %v", a, counts, cards)
	}
	for st, n := range cards {
		if _, ok := counts[st]; !ok || integer(tb, counts, st) != n {
			tb.Errorf("%s: cards[%s] = %v, want %d", a, st, counts[st], n)
		}
	}
	return m
}

func cardPath(customer, account string, id any) string {
	return fmt.Sprintf("/wallet/v1/customers/%s/accounts/%s/cards/%v", customer, account, id)
}

func v2Path(id any) string { return fmt.Sprintf("/wallet/v2/cards/%v", id) }

// createCard creates a card through the API as tok for account/customer and
// returns the card body.
func (e *env) createCard(tb testing.TB, tok, account, customer string, body map[string]any) map[string]any {
	tb.Helper()
	return e.do(tb, "POST", "/wallet/v2/cards", tok, body, "x-account-id", account, "x-customer-id", customer).
		wantCard(tb, http.StatusCreated)
}

// status is the status of the card at path (a v1 or v2 card route), read
// as tok.
func (e *env) status(tb testing.TB, path, tok string) string {
	tb.Helper()
	return str(tb, e.do(tb, "GET", path, tok, nil).wantCard(tb, http.StatusOK), "status")
}

func virtual(name string) map[string]any {
	return map[string]any{"type": "VIRTUAL", "name": name, "cvv_rotation_interval_hours": 24}
}

func plastic() map[string]any {
	return map[string]any{"type": "PLASTIC", "name": "My card", "printed_name": "Mabel Syrup"}
}

// createReason creates a BROKEN reason through the API and checks its body.
func (e *env) createReason(tb testing.TB, tok, desc string, mustBlock, enabled bool) int64 {
	tb.Helper()
	a := e.do(tb, "POST", "/wallet/v1/reissue-reasons", tok, map[string]any{
		"description": desc, "type": "BROKEN", "must_block": mustBlock, "must_charge": true,
		"cost": 12.5, "enabled": enabled,
	})
	m := a.want(tb, http.StatusCreated)
	noNulls(tb, a)
	if str(tb, m, "description") != desc || str(tb, m, "type") != "BROKEN" ||
		m["must_block"] != mustBlock || m["enabled"] != enabled || m["must_charge"] != true {
		tb.Errorf("created reason: %s", a)
	}
	if cost, ok := m["cost"].(json.Number); !ok {
		tb.Errorf("reason cost = %#v, want a decimal number", m["cost"])
	} else if f, err := cost.Float64(); err != nil || f != 12.5 {
		tb.Errorf("reason cost = %s, want 12.5", cost)
	}
	return integer(tb, m, "id")
}

// unbound returns the ids of the bulk's UNBOUND cards, read in the store.
func (e *env) unbound(tb testing.TB, org, bulk string) []int64 {
	tb.Helper()
	var ids []int64
	err := e.core.Store.Update(tb.Context(), func(ctx context.Context, tx storage.Tx) error {
		cs, err := tx.UnboundCards(ctx, org, bulk, nil, 0, 1000)
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// feedItem is one event of the feed, as the client sees it.
type feedItem struct {
	seq  int64
	id   string
	typ  string
	org  string
	data map[string]any
	raw  map[string]any
}

// feedPage reads one page of GET /events. The SPEC names next_after and each
// event's seq; the list is the body's one array.
func (e *env) feedPage(tb testing.TB, tok, query string) ([]feedItem, int64) {
	tb.Helper()
	a := e.do(tb, "GET", "/events"+query, tok, nil)
	m := a.want(tb, http.StatusOK)
	next := integer(tb, m, "next_after")
	var list []any
	arrays := 0
	for _, v := range m {
		if l, ok := v.([]any); ok {
			list = l
			arrays++
		}
	}
	if arrays != 1 {
		tb.Fatalf("%s: want exactly one array of events in the feed page", a)
	}
	items := make([]feedItem, 0, len(list))
	for _, v := range list {
		o, ok := v.(map[string]any)
		if !ok {
			tb.Fatalf("%s: event %v is not an object", a, v)
		}
		data, _ := o["data"].(map[string]any)
		items = append(items, feedItem{
			seq: integer(tb, o, "seq"), id: str(tb, o, "event_id"), typ: str(tb, o, "event_type"),
			org: str(tb, o, "org_id"), data: data, raw: o,
		})
	}
	return items, next
}

// allEvents reads the whole feed of tok's org, checking seqs rise and
// next_after is the last seq of each page.
func (e *env) allEvents(tb testing.TB, tok string) []feedItem {
	tb.Helper()
	var all []feedItem
	after := int64(0)
	for {
		items, next := e.feedPage(tb, tok, "?after="+strconv.FormatInt(after, 10)+"&limit=50")
		if len(items) == 0 {
			if next != after {
				tb.Fatalf("empty page after %d: next_after %d, want %d", after, next, after)
			}
			return all
		}
		for _, it := range items {
			if it.seq <= after {
				tb.Fatalf("seq %d not above %d", it.seq, after)
			}
			after = it.seq
		}
		if next != after {
			tb.Fatalf("next_after %d, want the last seq %d", next, after)
		}
		all = append(all, items...)
	}
}

// eventsOf keeps the events of type typ about card id (data.card_id).
func eventsOf(tb testing.TB, evs []feedItem, typ string, id int64) []feedItem {
	tb.Helper()
	var out []feedItem
	for _, ev := range evs {
		if ev.typ != typ || ev.data == nil {
			continue
		}
		if v, ok := ev.data["card_id"]; ok && isInteger(v) && integer(tb, ev.data, "card_id") == id {
			out = append(out, ev)
		}
	}
	return out
}

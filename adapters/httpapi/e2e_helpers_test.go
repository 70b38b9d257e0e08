package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/adapters/httpapi"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
	"github.com/uptrace/bun"
)

// The tests' account and customer: decimal integers, as the account routes
// want them.
const (
	acct     = "42"
	cust     = "7"
	otherAcc = "43"
	otherCus = "8"
)

var testSecret = []byte("cardcore-e2e-secret-0123456789abcdef")

// env is one running API behind a real listener, over one database.
type env struct {
	url     string
	client  *http.Client
	store   *bunstore.Store
	handler http.Handler
}

// newHandler wires the use cases over db into the API.
func newHandler(tb testing.TB, db *bun.DB) (http.Handler, *bunstore.Store) {
	tb.Helper()
	ctx := context.Background()
	store, err := bunstore.New(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	cards, err := lifecycle.NewCards(store, nil)
	if err != nil {
		tb.Fatal(err)
	}
	re, err := reissue.New(store, cards)
	if err != nil {
		tb.Fatal(err)
	}
	nn, err := noname.New(store, cards)
	if err != nil {
		tb.Fatal(err)
	}
	sync, err := datasync.New(store, cards)
	if err != nil {
		tb.Fatal(err)
	}
	pans, err := issuance.NewHMACProvisioner(testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	iss, err := issuance.New(store, cards, pans)
	if err != nil {
		tb.Fatal(err)
	}
	client, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := httpapi.New(httpapi.Config{Store: store, Cards: cards, Reissue: re, Noname: nn, Secret: testSecret,
		Sync: sync, Issuance: iss, ClientKeys: map[string]ed25519.PublicKey{"e2e-client": client}})
	if err != nil {
		tb.Fatal(err)
	}
	return h, store
}

func newEnv(t *testing.T, db *bun.DB) *env {
	t.Helper()
	h, store := newHandler(t, db)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, client: srv.Client(), store: store, handler: h}
}

func mint(tb testing.TB, c httpapi.Claims, ttl time.Duration, now time.Time, secret []byte) string {
	tb.Helper()
	tok, err := httpapi.MintToken(secret, c, ttl, now)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// serverTok is a valid server token of org.
func serverTok(tb testing.TB, org string) string {
	return mint(tb, httpapi.Claims{OrgID: org, Server: true}, time.Hour, time.Now(), testSecret)
}

// accountTok is a valid account token of org for account.
func accountTok(tb testing.TB, org, account string) string {
	return mint(tb, httpapi.Claims{OrgID: org, AccountID: account}, time.Hour, time.Now(), testSecret)
}

// jwtParts decodes a token's header and claims (numbers as json.Number).
func jwtParts(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", tok, len(parts))
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("token part %q: %v", s, err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("token part %s: %v", b, err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

// signJWT builds a token by hand: alg HS256, HS512 or none.
func signJWT(t *testing.T, alg string, secret []byte, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{}
	for k, v := range header {
		h[k] = v
	}
	h["alg"] = alg
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(h) + "." + enc(claims)
	var mac hash.Hash
	switch alg {
	case "HS256":
		mac = hmac.New(sha256.New, secret)
	case "HS512":
		mac = hmac.New(sha512.New, secret)
	case "none":
		return input + "."
	default:
		t.Fatalf("signJWT: alg %s", alg)
	}
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// resp is an answer of the API.
type resp struct {
	method, path string
	status       int
	raw          []byte
	header       http.Header
}

func (r resp) String() string {
	body := string(r.raw)
	if len(body) > 600 {
		body = body[:600] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %s", r.method, r.path, r.status, body)
}

// do sends a request. body: nil (none), string or []byte (sent as is),
// io.Reader (sent chunked, no Content-Length), anything else as JSON. hdr
// holds header name/value pairs.
func (e *env) do(t *testing.T, method, path, tok string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := resp{method: method, path: path, status: res.StatusCode, raw: raw, header: res.Header}
	if r.status >= 500 {
		t.Errorf("server error: %s", r)
	}
	if r.status >= 400 {
		checkErrorBody(t, r)
	}
	return r
}

// decodeJSON decodes raw with numbers kept as json.Number.
func decodeJSON(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// obj is the answer's JSON object.
func (r resp) obj(t *testing.T) map[string]any {
	t.Helper()
	v, err := decodeJSON(r.raw)
	if err != nil {
		t.Fatalf("%s: body is not JSON: %v", r, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: body is not a JSON object", r)
	}
	return m
}

// want checks the status code and returns the JSON object of the body.
func (r resp) want(t *testing.T, status int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d", r, r.status, status)
	}
	return r.obj(t)
}

// wantCode checks only the status code.
func (r resp) wantCode(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d", r, r.status, status)
	}
}

// checkErrorBody checks the section 6 body of an error answer: code and
// message are non-empty strings, field a string when present.
func checkErrorBody(t *testing.T, r resp) {
	t.Helper()
	v, err := decodeJSON(r.raw)
	if err != nil {
		t.Errorf("%s: error body is not JSON (SPEC 6, 7.1: every error answer has the section 6 body): %v", r, err)
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: error body is not a JSON object", r)
		return
	}
	for _, k := range []string{"code", "message"} {
		if s, ok := m[k].(string); !ok || s == "" {
			t.Errorf("%s: error body needs a non-empty string %q", r, k)
		}
	}
	if f, present := m["field"]; present {
		if s, ok := f.(string); !ok || s == "" {
			t.Errorf("%s: error field must be a non-empty string when present, got %#v", r, f)
		}
	}
}

// wantErr checks an error answer: status, section 6 body and, when field is
// not empty, the field it names.
func (r resp) wantErr(t *testing.T, status int, field string) map[string]any {
	t.Helper()
	m := r.want(t, status)
	if field != "" && m["field"] != field {
		t.Errorf("%s: error field %#v, want %q", r, m["field"], field)
	}
	return m
}

// wantConflict checks a 409 and its current_status / requested_status:
// current "" means the key must be absent, likewise requested.
func (r resp) wantConflict(t *testing.T, current, requested string) map[string]any {
	t.Helper()
	m := r.wantErr(t, http.StatusConflict, "")
	check := func(k, want string) {
		v, present := m[k]
		switch {
		case want == "" && present:
			t.Errorf("%s: %s present (%#v), want it absent", r, k, v)
		case want != "" && v != want:
			t.Errorf("%s: %s = %#v, want %q", r, k, v, want)
		}
	}
	check("current_status", current)
	check("requested_status", requested)
	return m
}

// get walks a dotted path through nested objects.
func get(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = o[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// str returns the string at path, failing when it is absent or not a string.
func str(t *testing.T, m map[string]any, path string) string {
	t.Helper()
	v, ok := get(m, path)
	s, isStr := v.(string)
	if !ok || !isStr {
		t.Fatalf("%s: want a string, got %#v (in %v)", path, v, m)
	}
	return s
}

// integer returns the JSON integer at path, failing when it is absent or
// not an integer number.
func integer(t *testing.T, m map[string]any, path string) int64 {
	t.Helper()
	v, ok := get(m, path)
	n, isNum := v.(json.Number)
	if !ok || !isNum {
		t.Fatalf("%s: want an integer, got %#v (in %v)", path, v, m)
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("%s: want an integer, got %s", path, n)
	}
	return i
}

// absent fails when path is present.
func absent(t *testing.T, m map[string]any, path string) {
	t.Helper()
	if v, ok := get(m, path); ok {
		t.Errorf("%s: want it absent, got %#v", path, v)
	}
}

// noNulls fails when any value in the JSON is null (SPEC 7.1: absent
// optional fields are omitted, never null).
func noNulls(t *testing.T, r resp) {
	t.Helper()
	v, err := decodeJSON(r.raw)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case nil:
			t.Errorf("%s: null at %q", r, path)
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

// jsonKind names how a schema types a field.
type jsonKind int

const (
	kString jsonKind = iota
	kInteger
	kBool
	kObject
	kIDString  // {"id": string}
	kIDInteger // {"id": integer}
)

// updateCardStatusResponse are the properties of the seed's
// UpdateCardStatusResponse, typed as it types them.
var updateCardStatusResponse = map[string]jsonKind{
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

// reissueCardResponse are the properties of the seed's ReissueCardResponse.
var reissueCardResponse = map[string]jsonKind{
	"program": kIDString, "account": kIDInteger, "customer": kIDInteger, "org": kIDString,
	"id": kInteger, "status": kString, "issuing_date": kString, "expiration_date": kString,
	"printed_name": kString, "name": kString, "mode": kString, "track_number": kInteger,
	"transaction_limit": kString, "embossing_custom_field": kString, "contactless_enabled": kBool,
	"abu_enabled": kBool, "type": kString, "validity_period_hours": kInteger, "valid_until": kString,
}

// checkSchema checks that every field of m is a property of schema, typed
// as the schema types it, and that there is no null anywhere.
func checkSchema(t *testing.T, r resp, m map[string]any, schema map[string]jsonKind, name string) {
	t.Helper()
	noNulls(t, r)
	for k, v := range m {
		kind, ok := schema[k]
		if !ok {
			t.Errorf("%s: field %q is not a property of %s", r, k, name)
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
			t.Errorf("%s: %s.%s = %#v is not typed as the schema says", r, name, k, v)
		}
	}
}

func isInteger(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	_, err := strconv.ParseInt(n.String(), 10, 64)
	return err == nil
}

// cardBody checks a card body (create, get, status, activate, v2 read).
func cardBody(t *testing.T, r resp, status int) map[string]any {
	t.Helper()
	m := r.want(t, status)
	checkSchema(t, r, m, updateCardStatusResponse, "UpdateCardStatusResponse")
	if s, ok := m["issuing_date"].(string); ok {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("%s: issuing_date %q is not RFC 3339", r, s)
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
func (e *env) createCard(t *testing.T, tok, account, customer string, body map[string]any) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/wallet/v2/cards", tok, body, "x-account-id", account, "x-customer-id", customer)
	return cardBody(t, r, http.StatusCreated)
}

func virtual(name string) map[string]any {
	return map[string]any{"type": "VIRTUAL", "name": name, "cvv_rotation_interval_hours": 24}
}

func plastic() map[string]any {
	return map[string]any{"type": "PLASTIC", "name": "My card", "printed_name": "Mabel Syrup"}
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
func (e *env) feedPage(t *testing.T, tok, query string) ([]feedItem, int64) {
	t.Helper()
	r := e.do(t, "GET", "/events"+query, tok, nil)
	m := r.want(t, http.StatusOK)
	next := integer(t, m, "next_after")
	var list []any
	arrays := 0
	for _, v := range m {
		if a, ok := v.([]any); ok {
			list = a
			arrays++
		}
	}
	if arrays != 1 {
		t.Fatalf("%s: want exactly one array of events in the feed page", r)
	}
	items := make([]feedItem, 0, len(list))
	for _, v := range list {
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: event %v is not an object", r, v)
		}
		data, _ := o["data"].(map[string]any)
		items = append(items, feedItem{
			seq: integer(t, o, "seq"), id: str(t, o, "event_id"), typ: str(t, o, "event_type"),
			org: str(t, o, "org_id"), data: data, raw: o,
		})
	}
	return items, next
}

// allEvents reads the whole feed of tok's org, checking seqs rise and
// next_after is the last seq of each page.
func (e *env) allEvents(t *testing.T, tok string) []feedItem {
	t.Helper()
	var all []feedItem
	after := int64(0)
	for {
		items, next := e.feedPage(t, tok, "?after="+strconv.FormatInt(after, 10)+"&limit=50")
		if len(items) == 0 {
			if next != after {
				t.Fatalf("empty page after %d: next_after %d, want %d", after, next, after)
			}
			return all
		}
		for _, it := range items {
			if it.seq <= after {
				t.Fatalf("seq %d not above %d", it.seq, after)
			}
			after = it.seq
		}
		if next != after {
			t.Fatalf("next_after %d, want the last seq %d", next, after)
		}
		all = append(all, items...)
	}
}

// eventsOf keeps the events of type typ about card id (data.card_id).
func eventsOf(t *testing.T, evs []feedItem, typ string, id int64) []feedItem {
	t.Helper()
	var out []feedItem
	for _, ev := range evs {
		if ev.typ != typ || ev.data == nil {
			continue
		}
		if v, ok := ev.data["card_id"]; ok && isInteger(v) && integer(t, ev.data, "card_id") == id {
			out = append(out, ev)
		}
	}
	return out
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// doRaw sends a request on a connection of its own, writing the body while
// reading the answer, so an early answer to a large body (413) is read even
// when the server stops reading and closes. chunked sends the body without
// a Content-Length.
func (e *env) doRaw(t *testing.T, method, path, tok string, body []byte, chunked bool, hdr ...string) resp {
	t.Helper()
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	go func() { _ = req.Write(conn) }()
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := resp{method: method, path: path, status: res.StatusCode, raw: raw, header: res.Header}
	if r.status >= 500 {
		t.Errorf("server error: %s", r)
	}
	if r.status >= 400 {
		checkErrorBody(t, r)
	}
	return r
}

func (e *env) createReason(t *testing.T, tok, desc string, mustBlock, enabled bool) int64 {
	t.Helper()
	r := e.do(t, "POST", "/wallet/v1/reissue-reasons", tok, map[string]any{
		"description": desc, "type": "BROKEN", "must_block": mustBlock, "must_charge": true,
		"cost": 12.5, "enabled": enabled,
	})
	m := r.want(t, http.StatusCreated)
	noNulls(t, r)
	if str(t, m, "description") != desc || str(t, m, "type") != "BROKEN" ||
		m["must_block"] != mustBlock || m["enabled"] != enabled || m["must_charge"] != true {
		t.Errorf("created reason: %s", r)
	}
	if cost, ok := m["cost"].(json.Number); !ok {
		t.Errorf("reason cost = %#v, want a decimal number", m["cost"])
	} else if f, err := cost.Float64(); err != nil || f != 12.5 {
		t.Errorf("reason cost = %s, want 12.5", cost)
	}
	return integer(t, m, "id")
}

// bulkBody checks a bulk's body: id, program_id, status, external_ids count
// and cards, the non-zero counts per card status.
func bulkBody(t *testing.T, r resp, code int, status string, externalIDs int, cards map[string]int64) map[string]any {
	t.Helper()
	m := r.want(t, code)
	noNulls(t, r)
	if str(t, m, "id") == "" {
		t.Errorf("bulk id is empty")
	}
	if _, ok := m["program_id"]; !ok {
		t.Errorf("%s: no program_id", r)
	}
	if got := str(t, m, "status"); got != status {
		t.Errorf("%s: bulk status %s, want %s", r, got, status)
	}
	if got := integer(t, m, "external_ids"); got != int64(externalIDs) {
		t.Errorf("%s: external_ids %d, want %d", r, got, externalIDs)
	}
	counts, ok := m["cards"].(map[string]any)
	if !ok {
		t.Fatalf("%s: cards is not an object", r)
	}
	if len(counts) != len(cards) {
		t.Errorf("%s: cards %v, want %v", r, counts, cards)
	}
	for st, n := range cards {
		if _, ok := counts[st]; !ok || integer(t, counts, st) != n {
			t.Errorf("%s: cards[%s] = %v, want %d", r, st, counts[st], n)
		}
	}
	return m
}

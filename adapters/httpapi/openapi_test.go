package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// contract sends requests to the API of e and validates each request and
// its answer against the OpenAPI document, counting which documented answer
// of which operation it has seen.
type contract struct {
	e      *env
	router routers.Router
	seen   map[string]bool // "operationId status"
}

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	// uuid is an optional format of kin-openapi: check it too, as the
	// bulk, event and card ids the API answers with are UUIDs.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122))
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi is %q, want 3.0.3", doc.OpenAPI)
	}
	return doc
}

// do validates the request against the document (it must fail exactly when
// k.breaksDoc), sends it, checks the status and validates the answer.
func (c *contract) do(t *testing.T, k call) answer {
	t.Helper()
	req := k.request(t, c.e.url)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", k.method, k.path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	verr := openapi3filter.ValidateRequest(t.Context(), in)
	switch {
	case k.breaksDoc && verr == nil:
		t.Errorf("%s %s: the request should break the document, but it validates", k.method, k.path)
	case !k.breaksDoc && verr != nil:
		t.Errorf("%s %s: the request breaks the document: %v", k.method, k.path, verr)
	}
	a := c.e.send(t, k)
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: a.status, Header: a.header,
		Body:    io.NopCloser(bytes.NewReader(a.raw)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Errorf("%s %s -> %d: the answer breaks the document: %v\nbody: %s", k.method, k.path, a.status, err, a.raw)
	}
	c.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, a.status)] = true
	return a
}

// covered fails for every documented answer no request produced.
func (c *contract) covered(t *testing.T, doc *openapi3.T) {
	t.Helper()
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				if !c.seen[op.OperationID+" "+code] {
					missing = append(missing, method+" "+path+" -> "+code)
				}
			}
		}
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("documented but never exercised: %s", m)
	}
}

// TestOpenAPI runs every route of the API, with every answer the document
// lists for it, against a real store, and validates each request and each
// answer against openapi.json.
func TestOpenAPI(t *testing.T) {
	doc := loadDoc(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		c := &contract{e: newEnv(t, db), router: router, seen: map[string]bool{}}
		exercise(t, c)
		exerciseLifecycle(t, c)
		exerciseSync(t, c)
		exerciseSandbox(t, c)
		exerciseWebhooks(t, c)
		c.e = newEnv(t, db) // a second API over the database, which brokenStore closes
		brokenStore(t, c, db)
		busyStore(t, c, db.Dialect().Name())
		c.covered(t, doc)
	})
}

// exercise runs the routes of the reference API (SPEC section 7).
func exercise(t *testing.T, c *contract) {
	do := func(k call) answer { t.Helper(); return c.do(t, k) }
	server := serverTok(t, "org-a")
	acc := accountTok(t, "org-a", "100")
	other := accountTok(t, "org-a", "101")
	serverB := serverTok(t, "org-b")
	owner := []string{"x-account-id", "100", "x-customer-id", "200"}
	with := func(h []string, kv ...string) []string { return slices.Concat(h, kv) } // later pairs win

	// Create.
	plastic := do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner,
		body: map[string]any{"type": "PLASTIC", "printed_name": "ADA LOVELACE", "metadata": map[string]any{"k": "v"}}, want: 201})
	plasticID := integer(t, plastic.body, "id")
	if got := str(t, plastic.body, "account.id"); got != "100" {
		t.Errorf("account.id = %q, want \"100\"", got)
	}
	if str(t, plastic.body, "status") != "CREATED" || str(t, plastic.body, "program.id") != "1" {
		t.Errorf("new PLASTIC card: %s", plastic.raw)
	}
	virtualBody := map[string]any{"type": "VIRTUAL", "name": "online", "cvv_rotation_interval_hours": 24, "extra": "ignored"}
	virtual := do(call{method: "POST", path: "/wallet/v2/cards", token: acc,
		header: []string{"x-customer-id", "200", "x-idempotency-key", "create-1"}, body: virtualBody, want: 201})
	virtualID := integer(t, virtual.body, "id")
	replay := do(call{method: "POST", path: "/wallet/v2/cards", token: acc,
		header: []string{"x-customer-id", "200", "x-idempotency-key", "create-1"}, body: virtualBody, want: 201})
	if !bytes.Equal(replay.raw, virtual.raw) {
		t.Errorf("replay answered\n%s\nthe first answer was\n%s", replay.raw, virtual.raw)
	}
	do(call{method: "POST", path: "/wallet/v2/cards", token: acc,
		header: []string{"x-customer-id", "201", "x-idempotency-key", "create-1"}, body: virtualBody, want: 409})
	do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner, body: virtualBody, want: 409})
	do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: []string{"x-customer-id", "200"},
		body: map[string]any{"type": "PLASTIC"}, want: 400})
	do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: with(owner, "x-account-id", "acct"),
		body: map[string]any{"type": "PLASTIC"}, want: 400, breaksDoc: true})
	do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner,
		body: map[string]any{"type": "PLASTIC", "pin_length": "4"}, want: 400, breaksDoc: true})
	do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: with(owner, "x-idempotency-key", strings.Repeat("k", 37)),
		body: map[string]any{"type": "PLASTIC"}, want: 400, breaksDoc: true})
	do(call{method: "POST", path: "/wallet/v2/cards", token: acc, header: with(owner, "x-account-id", "101"),
		body: map[string]any{"type": "PLASTIC"}, want: 403})
	do(call{method: "POST", path: "/wallet/v2/cards", header: owner, body: map[string]any{"type": "PLASTIC"}, want: 401})
	do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner, body: big, want: 413, breaksDoc: true})

	// Get, under the path's account and customer.
	plasticPath, virtualPath := cardPath("200", "100", plasticID), cardPath("200", "100", virtualID)
	do(call{method: "GET", path: plasticPath, token: acc, want: 200})
	do(call{method: "GET", path: "/wallet/v1/customers/200/accounts/100/cards/abc", token: acc, want: 400, breaksDoc: true})
	do(call{method: "GET", path: plasticPath, token: other, want: 403})
	do(call{method: "GET", path: plasticPath, want: 401})
	do(call{method: "GET", path: cardPath("201", "100", plasticID), token: server, want: 404})
	do(call{method: "GET", path: plasticPath, token: serverB, want: 404})

	// Update status.
	blocked := do(call{method: "PUT", path: virtualPath + "/status", token: acc, body: map[string]any{"status": "BLOCKED"}, want: 200})
	if str(t, blocked.body, "status") != "BLOCKED" || str(t, blocked.body, "previous_status") != "NORMAL" {
		t.Errorf("update status: %s", blocked.raw)
	}
	conflict := do(call{method: "PUT", path: virtualPath + "/status", token: acc, body: map[string]any{"status": "INOPERATIVE"}, want: 409})
	if str(t, conflict.body, "current_status") != "BLOCKED" || str(t, conflict.body, "requested_status") != "INOPERATIVE" {
		t.Errorf("status conflict: %s", conflict.raw)
	}
	do(call{method: "PUT", path: virtualPath + "/status", token: acc, body: map[string]any{"status": "SHINY"}, want: 400, breaksDoc: true})
	do(call{method: "PUT", path: virtualPath + "/status", token: other, body: map[string]any{"status": "NORMAL"}, want: 403})
	do(call{method: "PUT", path: virtualPath + "/status", body: map[string]any{"status": "NORMAL"}, want: 401})
	do(call{method: "PUT", path: cardPath("200", "100", 999999) + "/status", token: acc, body: map[string]any{"status": "NORMAL"}, want: 404})
	do(call{method: "PUT", path: virtualPath + "/status", token: acc, body: big, want: 413, breaksDoc: true})

	// Activate.
	active := do(call{method: "PUT", path: plasticPath + "/activate", token: acc, want: 200})
	if str(t, active.body, "status") != "NORMAL" {
		t.Errorf("activate: %s", active.raw)
	}
	again := do(call{method: "PUT", path: plasticPath + "/activate", token: acc, want: 409})
	if str(t, again.body, "current_status") != "NORMAL" || again.body["requested_status"] != nil {
		t.Errorf("activate conflict: %s", again.raw)
	}
	do(call{method: "PUT", path: cardPath("200", "x", plasticID) + "/activate", token: server, want: 400, breaksDoc: true})
	do(call{method: "PUT", path: plasticPath + "/activate", token: other, want: 403})
	do(call{method: "PUT", path: plasticPath + "/activate", want: 401})
	do(call{method: "PUT", path: cardPath("200", "100", 999999) + "/activate", token: acc, want: 404})
	do(call{method: "PUT", path: plasticPath + "/activate", token: acc, body: big, want: 413})

	// Reasons.
	lost := do(call{method: "POST", path: "/wallet/v1/reissue-reasons", token: server,
		body: map[string]any{"description": "Lost card", "type": "LOST", "must_block": true, "cost": 12.50}, want: 201})
	lostID := integer(t, lost.body, "id")
	old := do(call{method: "POST", path: "/wallet/v1/reissue-reasons", token: server,
		body: map[string]any{"description": "Old reason", "type": "OLD", "enabled": false}, want: 201})
	oldID := integer(t, old.body, "id")
	do(call{method: "POST", path: "/wallet/v1/reissue-reasons", token: server,
		body: map[string]any{"description": "Bad", "type": "lower"}, want: 400, breaksDoc: true})
	do(call{method: "POST", path: "/wallet/v1/reissue-reasons", token: acc, body: map[string]any{"description": "X", "type": "X"}, want: 403})
	do(call{method: "POST", path: "/wallet/v1/reissue-reasons", body: map[string]any{"description": "X", "type": "X"}, want: 401})
	do(call{method: "POST", path: "/wallet/v1/reissue-reasons", token: server, body: big, want: 413, breaksDoc: true})
	page := do(call{method: "GET", path: "/wallet/v1/reissue-reasons?limit=1", token: server, want: 200})
	cursor := str(t, page.body, "next_cursor")
	last := do(call{method: "GET", path: "/wallet/v1/reissue-reasons?limit=1&cursor=" + cursor, token: server, want: 200})
	if _, ok := last.body["next_cursor"]; ok {
		t.Errorf("the last page has a next_cursor: %s", last.raw)
	}
	enabled := do(call{method: "GET", path: "/wallet/v1/reissue-reasons?enabled=true", token: server, want: 200})
	if items := enabled.body["items"].([]any); len(items) != 1 {
		t.Errorf("enabled reasons: %s", enabled.raw)
	}
	do(call{method: "GET", path: "/wallet/v1/reissue-reasons?limit=0", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/wallet/v1/reissue-reasons?limit=51", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/wallet/v1/reissue-reasons?enabled=maybe", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/wallet/v1/reissue-reasons", token: acc, want: 403})
	do(call{method: "GET", path: "/wallet/v1/reissue-reasons", want: 401})

	// Reissue.
	reissueBody := map[string]any{"reason_id": lostID, "printed_name": "ADA KING"}
	key := []string{"x-idempotency-key", "reissue-1"}
	fresh := do(call{method: "POST", path: plasticPath + "/reissue", token: acc, header: key, body: reissueBody, want: 200})
	if integer(t, fresh.body, "account.id") != 100 || integer(t, fresh.body, "customer.id") != 200 ||
		integer(t, fresh.body, "track_number") != 2 || str(t, fresh.body, "printed_name") != "ADA KING" {
		t.Errorf("reissue: %s", fresh.raw)
	}
	if r := do(call{method: "POST", path: plasticPath + "/reissue", token: acc, header: key, body: reissueBody, want: 200}); !bytes.Equal(r.raw, fresh.raw) {
		t.Errorf("reissue replay answered\n%s\nthe first answer was\n%s", r.raw, fresh.raw)
	}
	if r := do(call{method: "POST", path: plasticPath + "/reissue", token: acc, body: map[string]any{"reason_id": lostID}, want: 200}); integer(t, r.body, "id") != integer(t, fresh.body, "id") {
		t.Errorf("a second reissue made another card: %s", r.raw)
	}
	do(call{method: "POST", path: plasticPath + "/reissue", token: acc, header: key, body: map[string]any{"reason_id": lostID}, want: 409})
	bad := do(call{method: "POST", path: plasticPath + "/reissue", token: acc, body: map[string]any{"reason_id": oldID}, want: 400})
	if str(t, bad.body, "field") != "reason_id" {
		t.Errorf("disabled reason: %s", bad.raw)
	}
	do(call{method: "POST", path: cardPath("200", "100", 999999) + "/reissue", token: acc, body: map[string]any{"reason_id": lostID}, want: 404})
	do(call{method: "POST", path: cardPath("200", "100", 999999) + "/reissue", token: acc, body: map[string]any{"reason_id": oldID}, want: 400})
	do(call{method: "POST", path: cardPath("abc", "100", plasticID) + "/reissue", token: acc, body: reissueBody, want: 400, breaksDoc: true})
	do(call{method: "POST", path: plasticPath + "/reissue", token: other, body: reissueBody, want: 403})
	do(call{method: "POST", path: plasticPath + "/reissue", body: reissueBody, want: 401})
	do(call{method: "POST", path: plasticPath + "/reissue", token: acc, body: big, want: 413, breaksDoc: true})
	temp := do(call{method: "POST", path: "/wallet/v2/cards", token: acc, header: []string{"x-customer-id", "200"},
		body: map[string]any{"type": "TEMPORARY", "name": "trip"}, want: 201})
	tempPath := cardPath("200", "100", integer(t, temp.body, "id"))
	do(call{method: "PUT", path: tempPath + "/status", token: acc, body: map[string]any{"status": "DELETED"}, want: 200})
	deleted := do(call{method: "POST", path: tempPath + "/reissue", token: acc, body: map[string]any{"reason_id": lostID}, want: 409})
	if str(t, deleted.body, "current_status") != "DELETED" {
		t.Errorf("reissue of a DELETED card: %s", deleted.raw)
	}

	// Bulks.
	bulkBody := map[string]any{"external_ids": []string{"e1", "e2", "e3"}}
	created := do(call{method: "POST", path: "/cards/v1/bulks", token: server, body: bulkBody, want: 201})
	bulkID := str(t, created.body, "id")
	if integer(t, created.body, "external_ids") != 3 || len(object(t, created.body, "cards")) != 0 || str(t, created.body, "status") != "CREATED" {
		t.Errorf("new bulk: %s", created.raw)
	}
	limited := do(call{method: "POST", path: "/cards/v1/bulks", token: server,
		body: map[string]any{"program_id": smallBulks, "external_ids": []string{"a", "b", "c", "d"}}, want: 400})
	if str(t, limited.body, "field") != "external_ids" {
		t.Errorf("bulk over the program's limit: %s", limited.raw)
	}
	do(call{method: "POST", path: "/cards/v1/bulks", token: server, body: map[string]any{"external_ids": []string{"a", "a"}}, want: 400, breaksDoc: true})
	do(call{method: "POST", path: "/cards/v1/bulks", token: acc, body: bulkBody, want: 403})
	do(call{method: "POST", path: "/cards/v1/bulks", body: bulkBody, want: 401})
	do(call{method: "POST", path: "/cards/v1/bulks", token: server, body: big, want: 413, breaksDoc: true})

	bulkPath := "/cards/v1/bulks/" + bulkID
	missing := "/cards/v1/bulks/" + uuid.NewString()
	do(call{method: "GET", path: bulkPath, token: server, want: 200})
	do(call{method: "GET", path: missing, token: server, want: 404})
	do(call{method: "GET", path: "/cards/v1/bulks/not-a-uuid", token: server, want: 404, breaksDoc: true})
	do(call{method: "GET", path: bulkPath, token: serverB, want: 404})
	do(call{method: "GET", path: bulkPath, token: acc, want: 403})
	do(call{method: "GET", path: bulkPath, want: 401})

	started := do(call{method: "POST", path: bulkPath + "/start", token: server, want: 202})
	if str(t, started.body, "status") != "STARTED" || integer(t, started.body, "cards.UNBOUND") != 3 {
		t.Errorf("started bulk: %s", started.raw)
	}
	do(call{method: "POST", path: bulkPath + "/start", token: server, want: 409})
	do(call{method: "POST", path: missing + "/start", token: server, want: 404})
	do(call{method: "POST", path: bulkPath + "/start", token: acc, want: 403})
	do(call{method: "POST", path: bulkPath + "/start", want: 401})
	do(call{method: "POST", path: bulkPath + "/start", token: server, body: big, want: 413})

	more := do(call{method: "PUT", path: bulkPath, token: server, body: map[string]any{"external_ids": []string{"e4"}}, want: 200})
	if integer(t, more.body, "external_ids") != 4 || integer(t, more.body, "cards.UNBOUND") != 4 {
		t.Errorf("incremented bulk: %s", more.raw)
	}
	do(call{method: "PUT", path: bulkPath, token: server, body: map[string]any{"external_ids": []string{"e1"}}, want: 409})
	do(call{method: "PUT", path: bulkPath, token: server, body: map[string]any{"external_ids": []string{}}, want: 400, breaksDoc: true})
	do(call{method: "PUT", path: missing, token: server, body: map[string]any{"external_ids": []string{"x"}}, want: 404})
	do(call{method: "PUT", path: bulkPath, token: acc, body: map[string]any{"external_ids": []string{"x"}}, want: 403})
	do(call{method: "PUT", path: bulkPath, body: map[string]any{"external_ids": []string{"x"}}, want: 401})
	do(call{method: "PUT", path: bulkPath, token: server, body: big, want: 413, breaksDoc: true})

	// The v2 read and bind, on the bulk's UNBOUND cards.
	unbound := c.e.unbound(t, "org-a", bulkID)
	if len(unbound) != 4 {
		t.Fatalf("%d UNBOUND cards, want 4", len(unbound))
	}
	read := do(call{method: "GET", path: v2Path(unbound[0]), token: server, want: 200})
	if _, ok := read.body["account"]; ok || str(t, read.body, "status") != "UNBOUND" || str(t, read.body, "bulk_id") != bulkID {
		t.Errorf("UNBOUND card: %s", read.raw)
	}
	do(call{method: "GET", path: "/wallet/v2/cards/abc", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: v2Path(unbound[0]), token: acc, want: 403})
	do(call{method: "GET", path: v2Path(unbound[0]), want: 401})
	do(call{method: "GET", path: v2Path(999999), token: server, want: 404})
	do(call{method: "GET", path: v2Path(unbound[0]), token: serverB, want: 404})

	for i, method := range []string{"POST", "PUT"} {
		bindPath := v2Path(unbound[i]) + "/noname/bind"
		bound := do(call{method: method, path: bindPath, token: acc, header: []string{"x-customer-id", "200"},
			body: map[string]any{"printed_name": "GRACE HOPPER"}, want: 202})
		if str(t, bound.body, "status") != "CREATED" || str(t, bound.body, "account.id") != "100" ||
			str(t, bound.body, "customer.id") != "200" {
			t.Errorf("bound card: %s", bound.raw)
		}
		rebind := do(call{method: method, path: bindPath, token: server, header: owner, want: 409})
		if str(t, rebind.body, "current_status") != "CREATED" {
			t.Errorf("second bind: %s", rebind.raw)
		}
		do(call{method: method, path: bindPath, token: server, header: with(owner, "x-customer-id", "cust"), want: 400, breaksDoc: true})
		do(call{method: method, path: bindPath, token: acc, header: with(owner, "x-account-id", "101"), want: 403})
		do(call{method: method, path: bindPath, header: owner, want: 401})
		do(call{method: method, path: v2Path(999999) + "/noname/bind", token: server, header: owner, want: 404})
		do(call{method: method, path: bindPath, token: server, header: owner, body: big, want: 413})
	}

	partial := do(call{method: "POST", path: bulkPath + "/cancel", token: server,
		body: map[string]any{"cancel_type": "PARTIAL", "external_ids": []string{"e3"}}, want: 202})
	if str(t, partial.body, "status") != "STARTED" || integer(t, partial.body, "cards.CANCELED") != 1 {
		t.Errorf("PARTIAL cancel: %s", partial.raw)
	}
	full := do(call{method: "POST", path: bulkPath + "/cancel", token: server, body: map[string]any{"cancel_type": "FULL"}, want: 202})
	if str(t, full.body, "status") != "CANCELED" || integer(t, full.body, "cards.CREATED") != 2 {
		t.Errorf("FULL cancel: %s", full.raw)
	}
	do(call{method: "POST", path: bulkPath + "/cancel", token: server, body: map[string]any{"cancel_type": "FULL"}, want: 409})
	do(call{method: "POST", path: bulkPath + "/cancel", token: server, body: map[string]any{"cancel_type": "HALF"}, want: 400, breaksDoc: true})
	do(call{method: "POST", path: missing + "/cancel", token: server, body: map[string]any{"cancel_type": "FULL"}, want: 404})
	do(call{method: "POST", path: bulkPath + "/cancel", token: acc, body: map[string]any{"cancel_type": "FULL"}, want: 403})
	do(call{method: "POST", path: bulkPath + "/cancel", body: map[string]any{"cancel_type": "FULL"}, want: 401})
	do(call{method: "POST", path: bulkPath + "/cancel", token: server, body: big, want: 413, breaksDoc: true})

	// The feed.
	feed := do(call{method: "GET", path: "/events?limit=1000", token: server, want: 200})
	evs, _ := feed.body["events"].([]any)
	if len(evs) == 0 {
		t.Fatalf("empty feed: %s", feed.raw)
	}
	next := integer(t, feed.body, "next_after")
	if lastSeq := integer(t, evs[len(evs)-1].(map[string]any), "seq"); lastSeq != next {
		t.Errorf("next_after %d, the last event's seq %d", next, lastSeq)
	}
	empty := do(call{method: "GET", path: fmt.Sprintf("/events?after=%d", next), token: server, want: 200})
	if len(empty.body["events"].([]any)) != 0 || integer(t, empty.body, "next_after") != next {
		t.Errorf("empty page: %s", empty.raw)
	}
	do(call{method: "GET", path: "/events?limit=0", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/events?after=-1", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/events?after=x", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/events?limit=1001", token: server, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/events", token: acc, want: 403})
	do(call{method: "GET", path: "/events", want: 401})

	// A card's history (SPEC 10.5).
	history := do(call{method: "GET", path: virtualPath + "/events", token: acc, want: 200})
	hevs, _ := history.body["events"].([]any)
	if len(hevs) < 2 {
		t.Fatalf("history of the virtual card: %s", history.raw)
	}
	lastEv := hevs[len(hevs)-1].(map[string]any)
	if v := integer(t, lastEv["data"].(map[string]any), "version"); v != integer(t, history.body, "next_after") {
		t.Errorf("history next_after %d, the last event's version %d", integer(t, history.body, "next_after"), v)
	}
	do(call{method: "GET", path: virtualPath + "/events?after=1&limit=100", token: server, want: 200})
	do(call{method: "GET", path: virtualPath + "/events?limit=0", token: acc, want: 400, breaksDoc: true})
	do(call{method: "GET", path: virtualPath + "/events?limit=101", token: acc, want: 400, breaksDoc: true})
	do(call{method: "GET", path: virtualPath + "/events?after=x", token: acc, want: 400, breaksDoc: true})
	do(call{method: "GET", path: "/wallet/v1/customers/200/accounts/100/cards/abc/events", token: acc, want: 400, breaksDoc: true})
	do(call{method: "GET", path: virtualPath + "/events", token: other, want: 403})
	do(call{method: "GET", path: virtualPath + "/events", want: 401})
	do(call{method: "GET", path: cardPath("201", "100", virtualID) + "/events", token: server, want: 404})
	do(call{method: "GET", path: virtualPath + "/events", token: serverB, want: 404})

	do(call{method: "GET", path: "/openapi.json", want: 200})
	do(call{method: "GET", path: "/healthz", want: 200})
}

// brokenStore closes the database under the API: every route that reaches
// the store answers 500 with the generic error body.
func brokenStore(t *testing.T, c *contract, db *bun.DB) {
	server := serverTok(t, "org-a")
	owner := []string{"x-account-id", "100", "x-customer-id", "200"}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	card := "/wallet/v1/customers/200/accounts/100/cards/1"
	bulk := "/cards/v1/bulks/" + uuid.NewString()
	idem := func() []string { return []string{"Idempotency-Key", uuid.NewString()} }
	for _, k := range []call{
		{method: "POST", path: "/wallet/v2/cards", header: owner, body: map[string]any{"type": "PLASTIC"}},
		{method: "GET", path: "/wallet/v2/cards/1"},
		{method: "POST", path: "/wallet/v2/cards/1/noname/bind", header: owner},
		{method: "PUT", path: "/wallet/v2/cards/1/noname/bind", header: owner},
		{method: "PATCH", path: "/wallet/v2/cards/1", body: map[string]any{"printed_name": "ADA KING"}},
		{method: "PUT", path: "/wallet/v2/cards/1/number", body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash}},
		{method: "POST", path: "/wallet/v2/cards/1/password-tries/increase"},
		{method: "POST", path: "/wallet/v2/cards/1/password-tries/reset"},
		{method: "GET", path: card},
		{method: "PUT", path: card + "/status", body: map[string]any{"status": "BLOCKED"}},
		{method: "PUT", path: card + "/activate"},
		{method: "POST", path: card + "/reissue", body: map[string]any{"reason_id": 1}},
		{method: "GET", path: card + "/events"},
		{method: "GET", path: "/wallet/v1/reissue-reasons"},
		{method: "POST", path: "/wallet/v1/reissue-reasons", body: map[string]any{"description": "Lost", "type": "LOST"}},
		{method: "POST", path: "/cards/v1/bulks", body: map[string]any{"external_ids": []string{"e1"}}},
		{method: "GET", path: bulk},
		{method: "PUT", path: bulk, body: map[string]any{"external_ids": []string{"e1"}}},
		{method: "POST", path: bulk + "/start"},
		{method: "POST", path: bulk + "/cancel", body: map[string]any{"cancel_type": "FULL"}},
		{method: "GET", path: "/events"},
		{method: "POST", path: "/webhooks/v1/endpoints", body: map[string]any{"url": publicHook}},
		{method: "GET", path: "/webhooks/v1/endpoints"},
		{method: "PATCH", path: "/webhooks/v1/endpoints/" + uuid.NewString(), body: map[string]any{"enabled": true}},
		{method: "DELETE", path: "/webhooks/v1/endpoints/" + uuid.NewString()},
		{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", body: map[string]any{"cards": []map[string]any{
			{"sourceAccountId": "a", "sourceCustomerId": "c", "last4": "1234", "status": "OPEN"}}}},
		{method: "POST", path: "/accounts/" + uuid.NewString() + "/cards", header: idem(), body: map[string]any{"type": "VIRTUAL"}, sign: c.e.key.sign},
		{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/issue", header: idem(), sign: c.e.key.sign},
		{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/fail", header: idem(), sign: c.e.key.sign},
		{method: "GET", path: "/cards/" + uuid.NewString(), sign: c.e.key.sign},
	} {
		k.token, k.want = server, http.StatusInternalServerError
		a := c.do(t, k)
		if a.body["code"] != codeInternal || a.body["message"] != "internal error" {
			t.Errorf("%s %s: a store failure answered %s", k.method, k.path, a.raw)
		}
	}
}

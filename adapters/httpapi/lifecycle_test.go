package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// panHash is a hash an issuer keeps of a PAN (SHA-256, hex).
const panHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// exerciseLifecycle runs the routes of SPEC 12 for TestOpenAPI (PIN tries,
// card information, numbering, and the reissue options it adds) with every
// answer the document lists for them, each request and answer validated
// against openapi.json, on every database.
func exerciseLifecycle(t *testing.T, c *contract) {
	do := func(k call) answer { t.Helper(); return c.do(t, k) }
	server := serverTok(t, "org-l")
	acc := accountTok(t, "org-l", "300")
	other := accountTok(t, "org-l", "301")
	serverB := serverTok(t, "org-m")
	owner := []string{"x-account-id", "300", "x-customer-id", "400"}
	create := func(body map[string]any) int64 {
		t.Helper()
		return integer(t, do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner, body: body, want: 201}).body, "id")
	}
	terminated := create(map[string]any{"type": "TEMPORARY", "name": "gone"})
	do(call{method: "PUT", path: cardPath("400", "300", terminated) + "/status", token: server, body: map[string]any{"status": "LOST"}, want: 200})

	// PIN tries: program 1 blocks at 3.
	id := create(virtual("pin"))
	increase, reset := v2Path(id)+"/password-tries/increase", v2Path(id)+"/password-tries/reset"
	for n, want := range []string{"NORMAL", "NORMAL", "BLOCKED", "BLOCKED"} {
		a := do(call{method: "POST", path: increase, token: server, want: 200})
		if integer(t, a.body, "password_tries") != int64(n+1) || str(t, a.body, "status") != want {
			t.Errorf("wrong PIN %d: %s", n+1, a.raw)
		}
	}
	unblocked := do(call{method: "POST", path: reset, token: server, want: 200})
	if integer(t, unblocked.body, "password_tries") != 0 || str(t, unblocked.body, "status") != "NORMAL" ||
		str(t, unblocked.body, "previous_status") != "BLOCKED" {
		t.Errorf("reset of a card blocked by its PIN tries: %s", unblocked.raw)
	}
	do(call{method: "POST", path: reset, token: server, want: 200}) // nothing to reset: no change
	for _, path := range []string{"/password-tries/increase", "/password-tries/reset"} {
		lost := do(call{method: "POST", path: v2Path(terminated) + path, token: server, want: 409})
		if str(t, lost.body, "current_status") != "LOST" || lost.body["requested_status"] != nil {
			t.Errorf("%s on a LOST card: %s", path, lost.raw)
		}
		do(call{method: "POST", path: "/wallet/v2/cards/abc" + path, token: server, want: 400, breaksDoc: true})
		do(call{method: "POST", path: v2Path(id) + path, token: acc, want: 403})
		do(call{method: "POST", path: v2Path(id) + path, want: 401})
		do(call{method: "POST", path: v2Path(999999) + path, token: server, want: 404})
		do(call{method: "POST", path: v2Path(id) + path, token: serverB, want: 404})
		do(call{method: "POST", path: v2Path(id) + path, token: server, body: big, want: 413})
	}

	// Card information.
	info := do(call{method: "PATCH", path: v2Path(id), token: acc, want: 200, body: map[string]any{
		"printed_name": "ADA KING", "name": "renamed", "transaction_limit": "250.00", "contactless_enabled": false,
		"embossing_custom_field": "metal", "metadata": map[string]any{"k": "v"}, "extra": "ignored"}})
	if str(t, info.body, "printed_name") != "ADA KING" || str(t, info.body, "name") != "renamed" ||
		str(t, info.body, "transaction_limit") != "250.00" || info.body["contactless_enabled"] != false ||
		str(t, info.body, "embossing_custom_field") != "metal" || str(t, info.body, "metadata.k") != "v" {
		t.Errorf("updated card information: %s", info.raw)
	}
	if same := do(call{method: "PATCH", path: v2Path(id), token: server, body: map[string]any{"printed_name": "ADA KING"}, want: 200}); string(same.raw) != string(info.raw) {
		t.Errorf("an update that changes nothing answered\n%s\nthe card was\n%s", same.raw, info.raw)
	}
	create(virtual("taken"))
	taken := do(call{method: "PATCH", path: v2Path(id), token: server, body: map[string]any{"name": "taken"}, want: 409})
	if str(t, taken.body, "current_status") != "NORMAL" {
		t.Errorf("alias taken: %s", taken.raw)
	}
	if lost := do(call{method: "PATCH", path: v2Path(terminated), token: server, body: map[string]any{"printed_name": "ADA KING"}, want: 409}); str(t, lost.body, "current_status") != "LOST" {
		t.Errorf("update of a LOST card: %s", lost.raw)
	}
	limit := do(call{method: "PATCH", path: v2Path(id), token: server, body: map[string]any{"transaction_limit": "12,50"}, want: 400, breaksDoc: true})
	if str(t, limit.body, "field") != "transaction_limit" {
		t.Errorf("bad transaction_limit: %s", limit.raw)
	}
	do(call{method: "PATCH", path: v2Path(id), token: server, body: map[string]any{"name": ""}, want: 400, breaksDoc: true})
	do(call{method: "PATCH", path: "/wallet/v2/cards/abc", token: server, body: map[string]any{}, want: 400, breaksDoc: true})
	do(call{method: "PATCH", path: v2Path(id), token: other, body: map[string]any{"printed_name": "EVE"}, want: 404})
	do(call{method: "PATCH", path: v2Path(id), body: map[string]any{}, want: 401})
	do(call{method: "PATCH", path: v2Path(999999), token: server, body: map[string]any{}, want: 404})
	do(call{method: "PATCH", path: v2Path(id), token: serverB, body: map[string]any{}, want: 404})
	do(call{method: "PATCH", path: v2Path(id), token: server, body: big, want: 413})

	// Issuer-numbered cards.
	unnumbered := do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner, want: 201,
		body: map[string]any{"type": "PLASTIC", "status": "UNNUMBERED", "printed_name": "GRACE HOPPER"}})
	if str(t, unnumbered.body, "status") != "UNNUMBERED" {
		t.Errorf("UNNUMBERED card: %s", unnumbered.raw)
	}
	unID := integer(t, unnumbered.body, "id")
	noName := do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner, want: 400,
		body: map[string]any{"type": "PLASTIC", "status": "UNNUMBERED"}})
	if str(t, noName.body, "field") != "printed_name" {
		t.Errorf("UNNUMBERED without printed_name: %s", noName.raw)
	}
	notPlastic := do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner, want: 400,
		body: map[string]any{"type": "VIRTUAL", "name": "v", "cvv_rotation_interval_hours": 0, "status": "UNNUMBERED", "printed_name": "GRACE HOPPER"}})
	if str(t, notPlastic.body, "field") != "status" {
		t.Errorf("UNNUMBERED VIRTUAL card: %s", notPlastic.raw)
	}
	do(call{method: "POST", path: "/wallet/v2/cards", token: server, header: owner, want: 400, breaksDoc: true,
		body: map[string]any{"type": "PLASTIC", "status": "NORMAL"}})
	number := v2Path(unID) + "/number"
	numbered := do(call{method: "PUT", path: number, token: server, body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash, "brand": "VISA"}, want: 200})
	if str(t, numbered.body, "status") != "CREATED" || str(t, numbered.body, "last_4_digits") != "4242" ||
		str(t, numbered.body, "hash") != panHash || str(t, numbered.body, "brand") != "VISA" {
		t.Errorf("numbered card: %s", numbered.raw)
	}
	if again := do(call{method: "PUT", path: number, token: server, body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash}, want: 409}); str(t, again.body, "current_status") != "CREATED" {
		t.Errorf("numbering twice: %s", again.raw)
	}
	clear := do(call{method: "PUT", path: number, token: server, want: 400,
		body: map[string]any{"last_4_digits": "1111", "pan_hash": panHash, "pan": "4111111111111111"}})
	if str(t, clear.body, "field") != "pan" || strings.Contains(string(clear.raw), "4111111111111111") {
		t.Errorf("a clear PAN: %s", clear.raw)
	}
	do(call{method: "PUT", path: number, token: server, body: map[string]any{"last_4_digits": "42", "pan_hash": panHash}, want: 400, breaksDoc: true})
	do(call{method: "PUT", path: "/wallet/v2/cards/abc/number", token: server, body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash}, want: 400, breaksDoc: true})
	do(call{method: "PUT", path: number, token: acc, body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash}, want: 403})
	do(call{method: "PUT", path: number, body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash}, want: 401})
	do(call{method: "PUT", path: v2Path(999999) + "/number", token: server, body: map[string]any{"last_4_digits": "4242", "pan_hash": panHash}, want: 404})
	do(call{method: "PUT", path: number, token: server, body: big, want: 413, breaksDoc: true})
	if a := do(call{method: "PUT", path: cardPath("400", "300", unID) + "/activate", token: acc, want: 200}); str(t, a.body, "status") != "NORMAL" {
		t.Errorf("activating a numbered card: %s", a.raw)
	}

	// Reissue keeps and returns cvv_rotation_interval_hours and template_id,
	// and makes UNNUMBERED successors.
	reason := integer(t, do(call{method: "POST", path: "/wallet/v1/reissue-reasons", token: server,
		body: map[string]any{"description": "Damaged", "type": "DAMAGED"}, want: 201}).body, "id")
	do(call{method: "POST", path: cardPath("400", "300", id) + "/reissue", token: acc, want: 400, breaksDoc: true,
		body: map[string]any{"reason_id": reason, "cvv_rotation_interval_hours": 4321}})
	fresh := do(call{method: "POST", path: cardPath("400", "300", id) + "/reissue", token: acc, want: 200,
		body: map[string]any{"reason_id": reason, "cvv_rotation_interval_hours": 48, "template_id": "EAFA693A-57B2-4029-97F3-D20D6F06D79B"}})
	if integer(t, fresh.body, "cvv_rotation_interval_hours") != 48 || str(t, fresh.body, "template_id") != "EAFA693A-57B2-4029-97F3-D20D6F06D79B" {
		t.Errorf("reissue options: %s", fresh.raw)
	}
	virtualUnnumbered := do(call{method: "POST", path: cardPath("400", "300", integer(t, fresh.body, "id")) + "/reissue", token: acc, want: 400,
		body: map[string]any{"reason_id": reason, "status": "UNNUMBERED", "brand": "VISA", "printed_name": "ADA KING"}})
	if str(t, virtualUnnumbered.body, "field") != "status" {
		t.Errorf("UNNUMBERED reissue of a VIRTUAL card: %s", virtualUnnumbered.raw)
	}
	noBrand := do(call{method: "POST", path: cardPath("400", "300", unID) + "/reissue", token: acc, want: 400,
		body: map[string]any{"reason_id": reason, "status": "UNNUMBERED", "printed_name": "GRACE HOPPER"}})
	if str(t, noBrand.body, "field") != "brand" {
		t.Errorf("UNNUMBERED reissue without brand: %s", noBrand.raw)
	}
	successor := do(call{method: "POST", path: cardPath("400", "300", unID) + "/reissue", token: acc, want: 200,
		body: map[string]any{"reason_id": reason, "status": "UNNUMBERED", "brand": "ELO", "printed_name": "GRACE B HOPPER"}})
	succID := integer(t, successor.body, "id")
	if str(t, successor.body, "status") != "UNNUMBERED" || str(t, successor.body, "printed_name") != "GRACE B HOPPER" {
		t.Errorf("UNNUMBERED successor: %s", successor.raw)
	}
	read := do(call{method: "GET", path: v2Path(succID), token: server, want: 200})
	if str(t, read.body, "brand") != "ELO" || read.body["last_4_digits"] != nil {
		t.Errorf("UNNUMBERED successor, read: %s", read.raw)
	}

	// The events carry password_tries and the operation of each change.
	feed := do(call{method: "GET", path: "/events?limit=1000", token: server, want: 200})
	var ops []string
	for _, v := range feed.body["events"].([]any) {
		ev := v.(map[string]any)
		data := ev["data"].(map[string]any)
		if _, ok := data["password_tries"]; !ok {
			t.Errorf("event without password_tries: %v", ev)
		}
		if ev["event_type"] == "update-1" && integer(t, data, "card_id") == id {
			ops = append(ops, fmt.Sprintf("%s:%s:%v", data["operation_type"], data["card_status"], data["password_tries"]))
		}
	}
	want := []string{"PIN_TRIES_INCREASE:NORMAL:1", "PIN_TRIES_INCREASE:NORMAL:2", "PIN_TRIES_EXCEEDED:BLOCKED:3",
		"PIN_TRIES_INCREASE:BLOCKED:4", "PIN_TRIES_RESET:NORMAL:0", "CARD_INFO_UPDATE:NORMAL:0", "REISSUE:CANCELED:0"}
	if strings.Join(ops, " ") != strings.Join(want, " ") {
		t.Errorf("update-1 events of card %d:\n got  %v\n want %v", id, ops, want)
	}
}

// TestLifecycleRoutesAnswerInOrder checks the order of the checks on the
// SPEC 12 routes: 401, 400 for the path id, 403, 413, 400 for the body,
// 404, 409.
func TestLifecycleRoutesAnswerInOrder(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		srv, acc := tokens(t, "org-o")
		body := map[string]any{"last_4_digits": "12"}
		e.do(t, "PUT", "/wallet/v2/cards/x/number", "", body).wantErr(t, http.StatusUnauthorized, "")
		e.do(t, "PUT", "/wallet/v2/cards/x/number", acc, body).wantErr(t, http.StatusBadRequest, "cardId")
		e.do(t, "PUT", "/wallet/v2/cards/1/number", acc, body).wantErr(t, http.StatusForbidden, "")
		e.do(t, "PUT", "/wallet/v2/cards/1/number", srv, big).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.do(t, "PUT", "/wallet/v2/cards/1/number", srv, body).wantErr(t, http.StatusBadRequest, "last_4_digits")
		e.do(t, "PUT", "/wallet/v2/cards/1/number", srv, map[string]any{"last_4_digits": "1234", "pan_hash": "4111111111111111"}).
			wantErr(t, http.StatusBadRequest, "pan_hash")
		e.do(t, "PUT", "/wallet/v2/cards/1/number", srv, map[string]any{"last_4_digits": "1234", "pan_hash": panHash}).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "PATCH", "/wallet/v2/cards/1", acc, map[string]any{"printed_name": "x1"}).wantErr(t, http.StatusBadRequest, "printed_name")
		e.do(t, "PATCH", "/wallet/v2/cards/1", acc, map[string]any{"contactless_enabled": "yes"}).wantErr(t, http.StatusBadRequest, "contactless_enabled")
		e.do(t, "PATCH", "/wallet/v2/cards/1", acc, map[string]any{"printed_name": "ADA"}).wantErr(t, http.StatusNotFound, "")
		e.do(t, "POST", "/wallet/v2/cards/0/password-tries/increase", acc, nil).wantErr(t, http.StatusBadRequest, "cardId")
		e.do(t, "POST", "/wallet/v2/cards/1/password-tries/reset", acc, nil).wantErr(t, http.StatusForbidden, "")
	})
}

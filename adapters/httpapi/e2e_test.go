package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/httpapi"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/uptrace/bun"
)

// TestE2E runs the reference API (SPEC section 7) behind a real listener on
// every database, as a client sees it. Each part works in an org of its own.
func TestE2E(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		t.Run("Service", e.testService)
		t.Run("Tokens", e.testTokens)
		t.Run("Cards", e.testCards)
		t.Run("Validation", e.testValidation)
		t.Run("Access", e.testAccess)
		t.Run("CreateIdempotency", e.testCreateIdempotency)
		t.Run("Reasons", e.testReasons)
		t.Run("Reissue", e.testReissue)
		t.Run("Bulks", e.testBulks)
		t.Run("Feed", e.testFeed)
		t.Run("BodyLimit", e.testBodyLimit)
		t.Run("Precedence", e.testPrecedence)
		t.Run("Races", e.testRaces)
	})
}

func (e *env) testService(t *testing.T) {
	tok := serverTok(t, "o-svc")
	e.do(t, "GET", "/healthz", tok, nil).wantCode(t, http.StatusOK)

	// Every error answer has the section 6 body (checked by do), unknown
	// routes and methods included.
	e.do(t, "GET", "/no/such/route", tok, nil).wantErr(t, http.StatusNotFound, "")
	if r := e.do(t, "DELETE", "/wallet/v2/cards", tok, nil); r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound {
		t.Errorf("%s: want 405 or 404", r)
	}

	r := e.do(t, "GET", "/openapi.json", tok, nil)
	doc := r.want(t, http.StatusOK)
	if v := str(t, doc, "openapi"); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi = %q, want an OpenAPI 3 document", v)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json has no paths object")
	}
	for _, p := range []string{
		"/wallet/v2/cards",
		"/wallet/v1/customers/{customerId}/accounts/{accountId}/cards/{cardId}",
		"/wallet/v1/customers/{customerId}/accounts/{accountId}/cards/{cardId}/status",
		"/wallet/v1/customers/{customerId}/accounts/{accountId}/cards/{cardId}/activate",
		"/wallet/v1/customers/{customerId}/accounts/{accountId}/cards/{cardId}/reissue",
		"/wallet/v1/reissue-reasons",
		"/cards/v1/bulks",
		"/cards/v1/bulks/{bulkId}",
		"/cards/v1/bulks/{bulkId}/start",
		"/cards/v1/bulks/{bulkId}/cancel",
		"/wallet/v2/cards/{cardId}/noname/bind",
		"/wallet/v2/cards/{cardId}",
		"/events",
	} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi.json does not document %s", p)
		}
	}
}

// testTokens: every way a token is missing or invalid is 401 (SPEC 7, 7.1).
func (e *env) testTokens(t *testing.T) {
	const org = "o-tok"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Tok")), "id")
	path := cardPath(cust, acct, id)

	// Controls: the minted tokens work, and so does a hand-signed copy, so
	// the 401s below come from the claims, not from the signing.
	e.do(t, "GET", path, srv, nil).wantCode(t, http.StatusOK)
	e.do(t, "GET", path, acc, nil).wantCode(t, http.StatusOK)
	accHdr, accClaims := jwtParts(t, acc)
	if accHdr["alg"] != "HS256" {
		t.Errorf("MintToken alg = %v, want HS256", accHdr["alg"])
	}
	e.do(t, "GET", path, signJWT(t, "HS256", testSecret, accHdr, accClaims), nil).wantCode(t, http.StatusOK)
	_, srvClaims := jwtParts(t, srv)

	without := func(m map[string]any, k string) map[string]any {
		out := map[string]any{}
		for key, v := range m {
			if key != k {
				out[key] = v
			}
		}
		return out
	}
	both := without(srvClaims, "")
	both["account_id"] = acct
	if _, ok := both["role"]; !ok {
		both["role"] = "server"
	}
	cases := map[string]string{
		"missing":           "",
		"expired":           mint(t, httpapi.Claims{OrgID: org, AccountID: acct}, time.Hour, time.Now().Add(-2*time.Hour), testSecret),
		"expired server":    mint(t, httpapi.Claims{OrgID: org, Server: true}, time.Minute, time.Now().Add(-time.Hour), testSecret),
		"other secret":      mint(t, httpapi.Claims{OrgID: org, Server: true}, time.Hour, time.Now(), []byte("another-secret-of-at-least-32-bytes!!")),
		"garbage":           "not.a.token",
		"HS512":             signJWT(t, "HS512", testSecret, accHdr, accClaims),
		"none":              signJWT(t, "none", nil, accHdr, accClaims),
		"account and role":  signJWT(t, "HS256", testSecret, accHdr, both),
		"no org_id":         signJWT(t, "HS256", testSecret, accHdr, without(accClaims, "org_id")),
		"no org_id, server": signJWT(t, "HS256", testSecret, accHdr, without(srvClaims, "org_id")),
		"no exp":            signJWT(t, "HS256", testSecret, accHdr, without(accClaims, "exp")),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			e.do(t, "GET", path, tok, nil).wantErr(t, http.StatusUnauthorized, "")
			e.do(t, "GET", "/events", tok, nil).wantErr(t, http.StatusUnauthorized, "")
		})
	}
	t.Run("not bearer", func(t *testing.T) {
		r := e.do(t, "GET", path, "", nil, "Authorization", "Basic "+srv)
		r.wantErr(t, http.StatusUnauthorized, "")
	})
	t.Run("every route", func(t *testing.T) {
		for _, rt := range []struct{ method, path string }{
			{"POST", "/wallet/v2/cards"},
			{"GET", path},
			{"PUT", path + "/status"},
			{"PUT", path + "/activate"},
			{"POST", path + "/reissue"},
			{"GET", "/wallet/v1/reissue-reasons"},
			{"POST", "/wallet/v1/reissue-reasons"},
			{"POST", "/cards/v1/bulks"},
			{"GET", "/cards/v1/bulks/b1"},
			{"PUT", "/cards/v1/bulks/b1"},
			{"POST", "/cards/v1/bulks/b1/start"},
			{"POST", "/cards/v1/bulks/b1/cancel"},
			{"PUT", v2Path(id) + "/noname/bind"},
			{"POST", v2Path(id) + "/noname/bind"},
			{"GET", v2Path(id)},
			{"GET", "/events"},
		} {
			e.do(t, rt.method, rt.path, "", "{}").wantErr(t, http.StatusUnauthorized, "")
		}
	})
}

func (e *env) testCards(t *testing.T) {
	const org = "o-cards"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)

	// A PLASTIC card: created CREATED, named PLASTIC whatever is passed.
	p := e.createCard(t, acc, acct, cust, plastic())
	pid := integer(t, p, "id")
	for path, want := range map[string]string{
		"status": "CREATED", "type": "PLASTIC", "name": "PLASTIC", "program.id": "1",
		"account.id": acct, "customer.id": cust, "org.id": org, "mode": "CREDIT",
		"printed_name": "Mabel Syrup",
	} {
		if got := str(t, p, path); got != want {
			t.Errorf("created PLASTIC card: %s = %q, want %q", path, got, want)
		}
	}
	if n := integer(t, p, "track_number"); n != 1 {
		t.Errorf("track_number = %d, want 1", n)
	}
	path := cardPath(cust, acct, pid)

	g := cardBody(t, e.do(t, "GET", path, acc, nil), http.StatusOK)
	if integer(t, g, "id") != pid || str(t, g, "status") != "CREATED" {
		t.Errorf("get: %v", g)
	}
	cardBody(t, e.do(t, "GET", path, srv, nil), http.StatusOK)
	v2 := cardBody(t, e.do(t, "GET", v2Path(pid), srv, nil), http.StatusOK)
	if str(t, v2, "account.id") != acct || str(t, v2, "customer.id") != cust {
		t.Errorf("v2 read: %v", v2)
	}

	a := cardBody(t, e.do(t, "PUT", path+"/activate", acc, nil), http.StatusOK)
	if str(t, a, "status") != "NORMAL" {
		t.Errorf("activated card status %q, want NORMAL", str(t, a, "status"))
	}
	e.do(t, "PUT", path+"/activate", acc, nil).wantConflict(t, "NORMAL", "")

	s := cardBody(t, e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "BLOCKED"}), http.StatusOK)
	if str(t, s, "status") != "BLOCKED" || str(t, s, "previous_status") != "NORMAL" {
		t.Errorf("status update: %v", s)
	}
	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "INOPERATIVE"}).wantConflict(t, "BLOCKED", "INOPERATIVE")

	// Setting the status a card has succeeds and emits nothing (SPEC 2).
	before := len(eventsOf(t, e.allEvents(t, srv), "update-1", pid))
	s = cardBody(t, e.do(t, "PUT", path+"/status", srv, map[string]any{"status": "BLOCKED"}), http.StatusOK)
	if str(t, s, "status") != "BLOCKED" {
		t.Errorf("same-status update: %v", s)
	}
	if after := len(eventsOf(t, e.allEvents(t, srv), "update-1", pid)); after != before {
		t.Errorf("same-status update emitted %d update-1 events", after-before)
	}

	cardBody(t, e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "CANCELED"}), http.StatusOK)
	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "NORMAL"}).wantConflict(t, "CANCELED", "NORMAL")
	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "BLOCKED"}).wantConflict(t, "CANCELED", "BLOCKED")
	cardBody(t, e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "LOST"}), http.StatusOK)

	// The card's events: one per change, typed and versioned (SPEC 7.1).
	evs := e.allEvents(t, srv)
	created := eventsOf(t, evs, "create-1", pid)
	updated := eventsOf(t, evs, "update-1", pid)
	if len(created) != 1 || len(updated) != 4 {
		t.Fatalf("card %d: %d create-1 and %d update-1 events, want 1 and 4", pid, len(created), len(updated))
	}
	wantStatus := []string{"CREATED", "NORMAL", "BLOCKED", "CANCELED", "LOST"}
	for i, ev := range append(created, updated...) {
		d := ev.data
		if integer(t, d, "version") != int64(i+1) || str(t, d, "card_status") != wantStatus[i] ||
			str(t, d, "card_type") != "PLASTIC" || integer(t, d, "program_id") != 1 ||
			str(t, d, "account_id") != acct || str(t, d, "customer_id") != cust {
			t.Errorf("event %d of card %d: %v", i, pid, ev.raw)
		}
		if ev.org != org || str(t, ev.raw, "domain") != "cards" || str(t, ev.raw, "cid") == "" {
			t.Errorf("event envelope: %v", ev.raw)
		}
		if _, err := time.Parse(time.RFC3339, str(t, ev.raw, "timestamp")); err != nil {
			t.Errorf("event timestamp: %v", err)
		}
	}

	// VIRTUAL cards start NORMAL; activation is for CREATED PLASTIC cards only.
	v := e.createCard(t, acc, acct, cust, virtual("Travel"))
	vid := integer(t, v, "id")
	if str(t, v, "status") != "NORMAL" || str(t, v, "type") != "VIRTUAL" || str(t, v, "name") != "Travel" {
		t.Errorf("VIRTUAL card: %v", v)
	}
	vpath := cardPath(cust, acct, vid)
	m := e.do(t, "PUT", vpath+"/activate", acc, nil).wantErr(t, http.StatusConflict, "")
	absent(t, m, "requested_status")
	e.do(t, "PUT", vpath+"/status", acc, map[string]any{"status": "INOPERATIVE"}).wantConflict(t, "NORMAL", "INOPERATIVE")

	// The alias is unique among the customer's VIRTUAL cards.
	r := e.do(t, "POST", "/wallet/v2/cards", acc, virtual("Travel"), "x-account-id", acct, "x-customer-id", cust)
	absent(t, r.wantErr(t, http.StatusConflict, ""), "requested_status")
	e.createCard(t, srv, otherAcc, otherCus, virtual("Travel"))

	for _, typ := range []string{"TEMPORARY", "RECURRING"} {
		c := e.createCard(t, srv, acct, cust, map[string]any{"type": typ, "name": "Short " + typ})
		if str(t, c, "status") != "NORMAL" || str(t, c, "type") != typ {
			t.Errorf("%s card: %v", typ, c)
		}
	}
}

// testValidation: the 400s of the card routes (SPEC 7.1).
func (e *env) testValidation(t *testing.T) {
	const org = "o-valid"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Valid")), "id")
	path := cardPath(cust, acct, id)
	create := func(tok string, body any, hdr ...string) resp {
		return e.do(t, "POST", "/wallet/v2/cards", tok, body, hdr...)
	}
	ids := []string{"x-account-id", acct, "x-customer-id", cust}

	t.Run("malformed JSON", func(t *testing.T) {
		create(acc, `{"type":`, ids...).wantErr(t, http.StatusBadRequest, "")
		create(acc, `not json`, ids...).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", path+"/status", acc, `{"status":"BLOCKED"`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", path+"/reissue", acc, `[`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/wallet/v1/reissue-reasons", srv, `{"description":`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/cards/v1/bulks", srv, `{"external_ids":["a"`).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("wrong types", func(t *testing.T) {
		create(acc, map[string]any{"type": 5, "name": "x", "cvv_rotation_interval_hours": 0}, ids...).wantErr(t, http.StatusBadRequest, "")
		create(acc, map[string]any{"type": "VIRTUAL", "name": 12, "cvv_rotation_interval_hours": 0}, ids...).wantErr(t, http.StatusBadRequest, "")
		create(acc, map[string]any{"type": "VIRTUAL", "name": "x", "cvv_rotation_interval_hours": "24"}, ids...).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", path+"/status", acc, map[string]any{"status": 5}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", path+"/status", acc, `["BLOCKED"]`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", path+"/reissue", acc, map[string]any{"reason_id": "one"}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": "a"}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/wallet/v1/reissue-reasons", srv, map[string]any{
			"description": "Broken", "type": "BROKEN", "must_block": "no", "must_charge": false, "cost": 1, "enabled": true,
		}).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("unknown enum", func(t *testing.T) {
		create(acc, map[string]any{"type": "GOLD", "name": "x"}, ids...).wantErr(t, http.StatusBadRequest, "type")
		create(acc, map[string]any{"type": "VIRTUAL", "name": "x", "mode": "GOLD", "cvv_rotation_interval_hours": 0}, ids...).wantErr(t, http.StatusBadRequest, "mode")
		e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "PAUSED"}).wantErr(t, http.StatusBadRequest, "status")
		e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "normal"}).wantErr(t, http.StatusBadRequest, "status")
	})
	t.Run("validity on TEMPORARY", func(t *testing.T) {
		for _, typ := range []string{"TEMPORARY", "RECURRING"} {
			create(acc, map[string]any{"type": typ, "name": "Tmp", "validity_period_hours": 24}, ids...).
				wantErr(t, http.StatusBadRequest, "validity_period_hours")
		}
	})
	t.Run("field rules", func(t *testing.T) {
		for _, c := range []struct {
			field string
			body  map[string]any
		}{
			{"printed_name", map[string]any{"type": "PLASTIC", "name": "P", "printed_name": "R2 D2"}},
			{"printed_name", map[string]any{"type": "PLASTIC", "name": "P", "printed_name": "J"}},
			{"name", map[string]any{"type": "VIRTUAL", "name": strings.Repeat("n", 51), "cvv_rotation_interval_hours": 0}},
			{"metadata", map[string]any{"type": "VIRTUAL", "name": "M", "cvv_rotation_interval_hours": 0, "metadata": []int{1}}},
			{"metadata", map[string]any{"type": "VIRTUAL", "name": "M", "cvv_rotation_interval_hours": 0, "metadata": map[string]string{"k": strings.Repeat("m", 3200)}}},
			{"pin_length", map[string]any{"type": "PLASTIC", "name": "P", "pin_length": 5}},
			{"cvv_rotation_interval_hours", map[string]any{"type": "VIRTUAL", "name": "NoCVV"}},
			{"transaction_limit", map[string]any{"type": "VIRTUAL", "name": "L", "cvv_rotation_interval_hours": 0, "transaction_limit": "ten"}},
			{"embossing_group", map[string]any{"type": "PLASTIC", "name": "P", "embossing_group": "E"}},
			{"embossing_custom_field", map[string]any{"type": "PLASTIC", "name": "P", "embossing_custom_field": strings.Repeat("e", 1001)}},
		} {
			create(acc, c.body, ids...).wantErr(t, http.StatusBadRequest, c.field)
		}
		// Idempotency keys are at most 36 characters (SPEC 3).
		create(acc, virtual("Long key"), append(ids, "x-idempotency-key", strings.Repeat("k", 37))...).
			wantErr(t, http.StatusBadRequest, "")
		reason := e.createReason(t, srv, "Broken", false, true)
		e.do(t, "POST", path+"/reissue", acc, map[string]any{"reason_id": reason}, "x-idempotency-key", strings.Repeat("k", 37)).
			wantErr(t, http.StatusBadRequest, "")
		if s := str(t, cardBody(t, e.do(t, "GET", path, acc, nil), http.StatusOK), "status"); s != "NORMAL" {
			t.Errorf("card status %s after a refused reissue, want NORMAL", s)
		}
		// What the rules allow: an explicit yymm expiration wins; a
		// validity period on a VIRTUAL card sets valid_until.
		c := e.createCard(t, acc, acct, cust, map[string]any{
			"type": "VIRTUAL", "name": "Dated", "cvv_rotation_interval_hours": 0, "expiration_date": "3001",
			"validity_period_hours": 48, "metadata": map[string]string{"k": "v"}, "pin_length": 6,
		})
		if str(t, c, "expiration_date") != "3001" || str(t, c, "valid_until") == "" || str(t, c, "metadata.k") != "v" {
			t.Errorf("card with explicit expiration and validity: %v", c)
		}
	})
	t.Run("path ids", func(t *testing.T) {
		for _, p := range []string{
			cardPath(cust, acct, "abc"), cardPath(cust, acct, "1x"), cardPath(cust, "abc", id),
			cardPath(cust, "4.2", id), cardPath("abc", acct, id), cardPath("-", acct, id),
		} {
			e.do(t, "GET", p, srv, nil).wantErr(t, http.StatusBadRequest, "")
			e.do(t, "PUT", p+"/status", srv, map[string]any{"status": "BLOCKED"}).wantErr(t, http.StatusBadRequest, "")
			e.do(t, "PUT", p+"/activate", srv, nil).wantErr(t, http.StatusBadRequest, "")
			e.do(t, "POST", p+"/reissue", srv, map[string]any{"reason_id": 1}).wantErr(t, http.StatusBadRequest, "")
		}
		e.do(t, "GET", v2Path("abc"), srv, nil).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", v2Path("abc")+"/noname/bind", srv, `{}`, "x-account-id", acct, "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", v2Path("abc")+"/noname/bind", srv, `{}`, "x-account-id", acct, "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("account headers", func(t *testing.T) {
		create(srv, virtual("NoAccount"), "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
		create(srv, virtual("BadAccount"), "x-account-id", "abc", "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
		create(srv, virtual("BadCustomer"), "x-account-id", acct, "x-customer-id", "abc").wantErr(t, http.StatusBadRequest, "")
	})
}

// testAccess: 403 for account tokens outside their account or on server
// routes, 404 for cards outside the org or the path (SPEC 7, 7.1).
func (e *env) testAccess(t *testing.T) {
	const org = "o-access"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	other := accountTok(t, org, otherAcc)
	id := integer(t, e.createCard(t, srv, acct, cust, plastic()), "id")
	path := cardPath(cust, acct, id)
	status := map[string]any{"status": "BLOCKED"}

	t.Run("403", func(t *testing.T) {
		e.do(t, "GET", path, other, nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "PUT", path+"/status", other, status).wantErr(t, http.StatusForbidden, "")
		e.do(t, "PUT", path+"/activate", other, nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "POST", path+"/reissue", other, map[string]any{"reason_id": 1}).wantErr(t, http.StatusForbidden, "")
		e.do(t, "POST", "/wallet/v2/cards", acc, virtual("Elsewhere"), "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		e.do(t, "PUT", v2Path(id)+"/noname/bind", acc, `{}`, "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		e.do(t, "POST", v2Path(id)+"/noname/bind", acc, `{}`, "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		for _, rt := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/wallet/v1/reissue-reasons", nil},
			{"POST", "/wallet/v1/reissue-reasons", map[string]any{"description": "Broken", "type": "BROKEN", "must_block": true, "must_charge": false, "cost": 0, "enabled": true}},
			{"POST", "/cards/v1/bulks", map[string]any{"program_id": 1, "external_ids": []string{"a"}}},
			{"GET", "/cards/v1/bulks/b1", nil},
			{"PUT", "/cards/v1/bulks/b1", map[string]any{"external_ids": []string{"b"}}},
			{"POST", "/cards/v1/bulks/b1/start", nil},
			{"POST", "/cards/v1/bulks/b1/cancel", map[string]any{"cancel_type": "FULL"}},
			{"GET", v2Path(id), nil},
			{"GET", "/events", nil},
		} {
			e.do(t, rt.method, rt.path, acc, rt.body).wantErr(t, http.StatusForbidden, "")
		}
	})
	t.Run("own account", func(t *testing.T) {
		cardBody(t, e.do(t, "GET", path, acc, nil), http.StatusOK)
	})
	t.Run("404", func(t *testing.T) {
		foreign := serverTok(t, "o-access-other")
		for _, c := range []struct {
			name, tok, path string
		}{
			{"unknown card", srv, cardPath(cust, acct, 987654321)},
			{"other org", foreign, path},
			{"other account", srv, cardPath(cust, otherAcc, id)},
			{"other customer", srv, cardPath(otherCus, acct, id)},
			{"account token, own account, card of another", other, cardPath(cust, otherAcc, id)},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.do(t, "GET", c.path, c.tok, nil).wantErr(t, http.StatusNotFound, "")
				e.do(t, "PUT", c.path+"/status", c.tok, status).wantErr(t, http.StatusNotFound, "")
				e.do(t, "PUT", c.path+"/activate", c.tok, nil).wantErr(t, http.StatusNotFound, "")
			})
		}
		e.do(t, "GET", v2Path(987654321), srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "GET", v2Path(id), foreign, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", v2Path(987654321)+"/noname/bind", srv, `{}`, "x-account-id", acct, "x-customer-id", cust).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", v2Path(id)+"/noname/bind", foreign, `{}`, "x-account-id", acct, "x-customer-id", cust).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "GET", "/cards/v1/bulks/no-such-bulk", srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "POST", "/cards/v1/bulks/no-such-bulk/start", srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", "/cards/v1/bulks/no-such-bulk", srv, map[string]any{"external_ids": []string{"z"}}).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "POST", "/cards/v1/bulks/no-such-bulk/cancel", srv, map[string]any{"cancel_type": "FULL"}).
			wantErr(t, http.StatusNotFound, "")
		// The card is untouched by all of the above.
		if s := str(t, cardBody(t, e.do(t, "GET", path, srv, nil), http.StatusOK), "status"); s != "CREATED" {
			t.Errorf("card status %s after refused requests, want CREATED", s)
		}
	})
}

// testCreateIdempotency: a create key replays the first answer; another
// request under the key is 409; the key is scoped to the account (SPEC 7.1).
func (e *env) testCreateIdempotency(t *testing.T) {
	const org = "o-idem"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	create := func(tok, account, customer string, body any) resp {
		return e.do(t, "POST", "/wallet/v2/cards", tok, body,
			"x-account-id", account, "x-customer-id", customer, "x-idempotency-key", "key-1")
	}
	first := create(acc, acct, cust, virtual("Idem"))
	c := cardBody(t, first, http.StatusCreated)
	again := create(acc, acct, cust, virtual("Idem"))
	if again.status != http.StatusCreated || !bytes.Equal(again.raw, first.raw) {
		t.Errorf("replay: got %s, want 201 %s", again, first.raw)
	}
	create(acc, acct, cust, virtual("Other")).wantErr(t, http.StatusConflict, "")
	create(acc, acct, otherCus, virtual("Idem")).wantErr(t, http.StatusConflict, "")
	// Another account: another scope, a new card.
	n := cardBody(t, create(srv, otherAcc, otherCus, virtual("Idem")), http.StatusCreated)
	if integer(t, n, "id") == integer(t, c, "id") {
		t.Errorf("the key of account %s replayed account %s's card", acct, otherAcc)
	}

	// Another org, another route: other scopes.
	o := cardBody(t, create(serverTok(t, "o-idem-other"), acct, cust, virtual("Idem")), http.StatusCreated)
	if str(t, o, "org.id") != "o-idem-other" {
		t.Errorf("the key of org %s replayed into another org: %v", org, o)
	}
	reason := e.createReason(t, srv, "Damaged", false, true)
	re := e.do(t, "POST", cardPath(cust, acct, integer(t, c, "id"))+"/reissue", acc, map[string]any{"reason_id": reason},
		"x-idempotency-key", "key-1")
	re.wantCode(t, http.StatusOK)
	if integer(t, re.obj(t), "id") == integer(t, c, "id") {
		t.Errorf("reissue under the create key answered the created card: %s", re)
	}

	// One card and one event for the key in account 42, PLASTIC too.
	p1 := e.do(t, "POST", "/wallet/v2/cards", srv, plastic(), "x-account-id", acct, "x-customer-id", cust, "x-idempotency-key", "key-2")
	p2 := e.do(t, "POST", "/wallet/v2/cards", srv, plastic(), "x-account-id", acct, "x-customer-id", cust, "x-idempotency-key", "key-2")
	cardBody(t, p1, http.StatusCreated)
	if p2.status != http.StatusCreated || !bytes.Equal(p1.raw, p2.raw) {
		t.Errorf("PLASTIC replay: got %s, want 201 %s", p2, p1.raw)
	}
	var made int
	for _, ev := range e.allEvents(t, srv) {
		if ev.typ == "create-1" && str(t, ev.data, "account_id") == acct {
			made++
		}
	}
	if made != 3 {
		t.Errorf("%d create-1 events for account %s, want 3 (one per key, one for the reissue)", made, acct)
	}
}

func (e *env) testReasons(t *testing.T) {
	const org = "o-reasons"
	srv := serverTok(t, org)
	ids := map[int64]bool{}
	for i, en := range []bool{true, false, true} {
		ids[e.createReason(t, srv, "Reason "+strconv.Itoa(i), i == 0, en)] = en
	}
	if len(ids) != 3 {
		t.Fatalf("reason ids %v are not distinct", ids)
	}
	list := func(query string) ([]map[string]any, map[string]any) {
		m := e.do(t, "GET", "/wallet/v1/reissue-reasons"+query, srv, nil).want(t, http.StatusOK)
		raw, ok := m["items"].([]any)
		if !ok {
			t.Fatalf("list %s: no items array: %v", query, m)
		}
		var items []map[string]any
		for _, it := range raw {
			items = append(items, it.(map[string]any))
		}
		return items, m
	}

	all, m := list("")
	if len(all) != 3 {
		t.Errorf("list: %d items, want 3", len(all))
	}
	absent(t, m, "next_cursor")
	seen := map[int64]bool{}
	page, m := list(q("limit", "2"))
	if len(page) != 2 {
		t.Fatalf("limit=2: %d items", len(page))
	}
	cursor := str(t, m, "next_cursor")
	rest, m := list(q("limit", "2", "cursor", cursor))
	if len(rest) != 1 {
		t.Errorf("second page: %d items, want 1", len(rest))
	}
	absent(t, m, "next_cursor")
	for _, it := range append(page, rest...) {
		seen[integer(t, it, "id")] = true
	}
	if len(seen) != 3 {
		t.Errorf("pages hold %d distinct reasons, want 3", len(seen))
	}
	enabled, _ := list(q("enabled", "true"))
	disabled, _ := list(q("enabled", "false"))
	if len(enabled) != 2 || len(disabled) != 1 || disabled[0]["enabled"] != false {
		t.Errorf("enabled filter: %d enabled, %d disabled (%v)", len(enabled), len(disabled), disabled)
	}
	list(q("limit", "1"))
	list(q("limit", "50"))
	for _, bad := range []string{"0", "51", "-1", "abc"} {
		e.do(t, "GET", "/wallet/v1/reissue-reasons"+q("limit", bad), srv, nil).wantErr(t, http.StatusBadRequest, "")
	}
	for i := range 9 {
		e.createReason(t, srv, "More "+strconv.Itoa(i), false, true)
	}
	page, m = list("")
	if len(page) != 10 {
		t.Errorf("default limit: %d items, want 10", len(page))
	}
	rest, m2 := list(q("cursor", str(t, m, "next_cursor")))
	if len(rest) != 2 {
		t.Errorf("after the default page: %d items, want 2", len(rest))
	}
	absent(t, m2, "next_cursor")
	if other, _ := e.do(t, "GET", "/wallet/v1/reissue-reasons", serverTok(t, "o-reasons-other"), nil).
		want(t, http.StatusOK)["items"].([]any); len(other) != 0 {
		t.Errorf("another org lists %d of this org's reasons", len(other))
	}
	e.do(t, "POST", "/wallet/v1/reissue-reasons", srv, map[string]any{
		"description": "Lower", "type": "broken", "must_block": true, "must_charge": false, "cost": 1, "enabled": true,
	}).wantErr(t, http.StatusBadRequest, "type")
}

func (e *env) testReissue(t *testing.T) {
	const org = "o-reissue"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	keep := e.createReason(t, srv, "Damaged", false, true)
	block := e.createReason(t, srv, "Stolen", true, true)
	off := e.createReason(t, srv, "Old reason", false, false)
	reissue := func(tok string, id int64, reason int64, hdr ...string) resp {
		return e.do(t, "POST", cardPath(cust, acct, id)+"/reissue", tok, map[string]any{"reason_id": reason}, hdr...)
	}
	reissueBody := func(r resp) map[string]any {
		t.Helper()
		m := r.want(t, http.StatusOK)
		checkSchema(t, r, m, reissueCardResponse, "ReissueCardResponse")
		if integer(t, m, "account.id") != 42 || integer(t, m, "customer.id") != 7 {
			t.Errorf("reissue body account/customer: %s", r)
		}
		return m
	}

	// A NORMAL PLASTIC card reissued without must_block becomes REISSUED
	// and is canceled when its successor is activated.
	pid := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	e.do(t, "PUT", cardPath(cust, acct, pid)+"/activate", acc, nil).wantCode(t, http.StatusOK)
	n := reissueBody(reissue(acc, pid, keep))
	nid := integer(t, n, "id")
	if nid == pid || integer(t, n, "track_number") != 2 || str(t, n, "status") != "CREATED" || str(t, n, "type") != "PLASTIC" {
		t.Errorf("successor: %v", n)
	}
	if s := str(t, cardBody(t, e.do(t, "GET", cardPath(cust, acct, pid), acc, nil), http.StatusOK), "status"); s != "REISSUED" {
		t.Errorf("old card status %s, want REISSUED", s)
	}
	got := cardBody(t, e.do(t, "GET", cardPath(cust, acct, nid), acc, nil), http.StatusOK)
	if integer(t, got, "reissued_card_id") != pid || integer(t, got, "track_number") != 2 {
		t.Errorf("successor get: %v", got)
	}
	// Reissuing again returns the same successor, whatever the reason.
	for _, reason := range []int64{keep, block} {
		if again := reissueBody(reissue(srv, pid, reason)); integer(t, again, "id") != nid {
			t.Errorf("second reissue made card %d, want the successor %d", integer(t, again, "id"), nid)
		}
	}
	evs := e.allEvents(t, srv)
	if c := eventsOf(t, evs, "create-1", nid); len(c) != 1 || integer(t, c[0].data, "reissued_card_id") != pid {
		t.Errorf("successor create-1 events: %v", c)
	}
	if u := eventsOf(t, evs, "update-1", pid); len(u) != 2 || str(t, u[1].data, "card_status") != "REISSUED" {
		t.Errorf("old card update-1 events: %v", u)
	}
	e.do(t, "PUT", cardPath(cust, acct, nid)+"/activate", acc, nil).wantCode(t, http.StatusOK)
	if s := str(t, cardBody(t, e.do(t, "GET", cardPath(cust, acct, pid), acc, nil), http.StatusOK), "status"); s != "CANCELED" {
		t.Errorf("old card status %s after the successor's activation, want CANCELED", s)
	}

	// A VIRTUAL card is canceled at once; must_block cancels a PLASTIC one.
	vid := integer(t, e.createCard(t, acc, acct, cust, virtual("Reissue me")), "id")
	if s := str(t, reissueBody(reissue(acc, vid, keep)), "status"); s != "NORMAL" {
		t.Errorf("VIRTUAL successor status %s, want NORMAL", s)
	}
	if s := str(t, cardBody(t, e.do(t, "GET", cardPath(cust, acct, vid), acc, nil), http.StatusOK), "status"); s != "CANCELED" {
		t.Errorf("reissued VIRTUAL card %s, want CANCELED", s)
	}
	bid := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	reissueBody(reissue(acc, bid, block))
	if s := str(t, cardBody(t, e.do(t, "GET", cardPath(cust, acct, bid), acc, nil), http.StatusOK), "status"); s != "CANCELED" {
		t.Errorf("PLASTIC card reissued with must_block: %s, want CANCELED", s)
	}

	// Unknown or disabled reason: 400 naming reason_id.
	fresh := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	reissue(acc, fresh, 987654).wantErr(t, http.StatusBadRequest, "reason_id")
	reissue(acc, fresh, off).wantErr(t, http.StatusBadRequest, "reason_id")

	// UNBOUND, UNNUMBERED and DELETED cards are not reissued.
	del := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	e.do(t, "PUT", cardPath(cust, acct, del)+"/status", acc, map[string]any{"status": "DELETED"}).wantCode(t, http.StatusOK)
	reissue(acc, del, keep).wantConflict(t, "DELETED", "")

	// Idempotency key: replay, conflict with another request, scoped to the card.
	first := reissue(acc, fresh, keep, "x-idempotency-key", "rk-1")
	reissueBody(first)
	again := reissue(acc, fresh, keep, "x-idempotency-key", "rk-1")
	if again.status != http.StatusOK || !bytes.Equal(again.raw, first.raw) {
		t.Errorf("reissue replay: got %s, want 200 %s", again, first.raw)
	}
	reissue(acc, fresh, block, "x-idempotency-key", "rk-1").wantErr(t, http.StatusConflict, "")
	e.do(t, "POST", cardPath(cust, acct, fresh)+"/reissue", acc,
		map[string]any{"reason_id": keep, "printed_name": "Other Name"}, "x-idempotency-key", "rk-1").
		wantErr(t, http.StatusConflict, "")
	second := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	s := reissueBody(reissue(acc, second, keep, "x-idempotency-key", "rk-1"))
	if integer(t, s, "id") == integer(t, first.obj(t), "id") {
		t.Errorf("key rk-1 on card %d replayed card %d's reissue", second, fresh)
	}
}

func (e *env) testBulks(t *testing.T) {
	const org = "o-bulk"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)

	create := e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": []string{"e1", "e2"}})
	b := bulkBody(t, create, http.StatusCreated, "CREATED", 2, map[string]int64{})
	id := str(t, b, "id")
	bpath := "/cards/v1/bulks/" + id
	// An increment before the start adds external ids, no cards.
	bulkBody(t, e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e3"}}), http.StatusOK, "CREATED", 3, map[string]int64{})
	bulkBody(t, e.do(t, "GET", bpath, srv, nil), http.StatusOK, "CREATED", 3, map[string]int64{})
	e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": []string{"x", "y", "x"}}).
		wantErr(t, http.StatusBadRequest, "")

	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = "n" + strconv.Itoa(i)
	}
	e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": tooMany}).
		wantErr(t, http.StatusBadRequest, "")
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": tooMany}).wantErr(t, http.StatusBadRequest, "")
	bulkBody(t, e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": tooMany[:1000]}),
		http.StatusCreated, "CREATED", 1000, map[string]int64{})

	// Start: 202, and the cards and their events exist when it answers.
	e.do(t, "POST", bpath+"/start", srv, nil).wantCode(t, http.StatusAccepted)
	bulkBody(t, e.do(t, "GET", bpath, srv, nil), http.StatusOK, "STARTED", 3, map[string]int64{"UNBOUND": 3})
	e.do(t, "POST", bpath+"/start", srv, nil).wantErr(t, http.StatusConflict, "")

	// Increment: 200 with the bulk; a started bulk makes the cards at once.
	inc := e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e4", "e5"}})
	bulkBody(t, inc, http.StatusOK, "STARTED", 5, map[string]int64{"UNBOUND": 5})
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e6", "e6"}}).wantErr(t, http.StatusBadRequest, "")
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e7", "e1"}}).wantErr(t, http.StatusConflict, "")
	bulkBody(t, e.do(t, "GET", bpath, srv, nil), http.StatusOK, "STARTED", 5, map[string]int64{"UNBOUND": 5})

	cardOf := map[string]int64{}
	for _, ev := range e.allEvents(t, srv) {
		if ev.typ != "create-1" {
			continue
		}
		if bid, _ := ev.data["bulk_id"].(string); bid == id {
			cardOf[str(t, ev.data, "external_id")] = integer(t, ev.data, "card_id")
			if str(t, ev.data, "card_status") != "UNBOUND" || str(t, ev.data, "card_type") != "PLASTIC" {
				t.Errorf("noname create-1: %v", ev.raw)
			}
		}
	}
	if len(cardOf) != 5 {
		t.Fatalf("create-1 events name %d cards of the bulk, want 5: %v", len(cardOf), cardOf)
	}

	// An UNBOUND card's body has no account and customer.
	r := e.do(t, "GET", v2Path(cardOf["e1"]), srv, nil)
	u := cardBody(t, r, http.StatusOK)
	absent(t, u, "account")
	absent(t, u, "customer")
	if str(t, u, "status") != "UNBOUND" || str(t, u, "type") != "PLASTIC" || str(t, u, "bulk_id") != id || str(t, u, "external_id") != "e1" {
		t.Errorf("UNBOUND card: %s", r)
	}

	// Bind: 202, visible at once, then 409.
	bind := func(method, tok string, cardID int64, body any) resp {
		return e.do(t, method, v2Path(cardID)+"/noname/bind", tok, body, "x-account-id", acct, "x-customer-id", cust)
	}
	bind("PUT", acc, cardOf["e2"], `{}`).wantCode(t, http.StatusAccepted)
	bound := cardBody(t, e.do(t, "GET", v2Path(cardOf["e2"]), srv, nil), http.StatusOK)
	if str(t, bound, "status") != "CREATED" || str(t, bound, "account.id") != acct || str(t, bound, "customer.id") != cust {
		t.Errorf("bound card: %v", bound)
	}
	cardBody(t, e.do(t, "GET", cardPath(cust, acct, cardOf["e2"]), acc, nil), http.StatusOK)
	bind("POST", acc, cardOf["e2"], `{}`).wantConflict(t, "CREATED", "")
	bind("POST", srv, cardOf["e3"], `{}`).wantCode(t, http.StatusAccepted)

	// Bind replacing a card: the old card is reissued without must_block.
	old := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	e.do(t, "PUT", cardPath(cust, acct, old)+"/activate", acc, nil).wantCode(t, http.StatusOK)
	bind("PUT", acc, cardOf["e4"], map[string]any{"reissued_card_id": old}).wantCode(t, http.StatusAccepted)
	if s := str(t, cardBody(t, e.do(t, "GET", v2Path(old), srv, nil), http.StatusOK), "status"); s != "REISSUED" {
		t.Errorf("replaced card status %s, want REISSUED", s)
	}
	if rid := integer(t, cardBody(t, e.do(t, "GET", v2Path(cardOf["e4"]), srv, nil), http.StatusOK), "reissued_card_id"); rid != old {
		t.Errorf("bound card reissued_card_id %d, want %d", rid, old)
	}
	evs := e.allEvents(t, srv)
	for _, x := range []string{"e2", "e3", "e4"} {
		bc := eventsOf(t, evs, "bind_card-1", cardOf[x])
		if len(bc) != 1 || str(t, bc[0].data, "account_id") != acct || str(t, bc[0].data, "customer_id") != cust ||
			str(t, bc[0].data, "card_status") != "CREATED" {
			t.Errorf("bind_card-1 of %s: %v", x, bc)
		}
	}
	if u := eventsOf(t, evs, "update-1", old); len(u) != 2 || str(t, u[1].data, "card_status") != "REISSUED" {
		t.Errorf("replaced card update-1 events: %v", u)
	}

	// The replaced card must be of the same account and have no successor.
	elsewhere := integer(t, e.createCard(t, srv, otherAcc, otherCus, plastic()), "id")
	bind("PUT", srv, cardOf["e5"], map[string]any{"reissued_card_id": elsewhere}).wantErr(t, http.StatusConflict, "")
	bind("PUT", srv, cardOf["e5"], map[string]any{"reissued_card_id": old}).wantErr(t, http.StatusConflict, "")
	if s := str(t, cardBody(t, e.do(t, "GET", v2Path(cardOf["e5"]), srv, nil), http.StatusOK), "status"); s != "UNBOUND" {
		t.Errorf("card %d after refused binds: %s, want UNBOUND", cardOf["e5"], s)
	}

	// Cancel PARTIAL: the bulk stays STARTED; FULL: CANCELED; bound cards untouched.
	e.do(t, "POST", bpath+"/cancel", srv, map[string]any{"cancel_type": "PARTIAL", "external_ids": []string{"e5", "e2"}}).
		wantCode(t, http.StatusAccepted)
	bulkBody(t, e.do(t, "GET", bpath, srv, nil), http.StatusOK, "STARTED", 5, map[string]int64{"UNBOUND": 1, "CREATED": 3, "CANCELED": 1})
	e.do(t, "POST", bpath+"/cancel", srv, map[string]any{"cancel_type": "FULL"}).wantCode(t, http.StatusAccepted)
	bulkBody(t, e.do(t, "GET", bpath, srv, nil), http.StatusOK, "CANCELED", 5, map[string]int64{"CREATED": 3, "CANCELED": 2})
	if s := str(t, cardBody(t, e.do(t, "GET", v2Path(cardOf["e1"]), srv, nil), http.StatusOK), "status"); s != "CANCELED" {
		t.Errorf("UNBOUND card after FULL cancel: %s", s)
	}
	e.do(t, "POST", bpath+"/cancel", srv, map[string]any{"cancel_type": "FULL"}).wantErr(t, http.StatusConflict, "")
	e.do(t, "POST", bpath+"/start", srv, nil).wantErr(t, http.StatusConflict, "")
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e9"}}).wantErr(t, http.StatusConflict, "")
	bind("PUT", srv, cardOf["e1"], `{}`).wantConflict(t, "CANCELED", "")

	var cancels []feedItem
	evs = e.allEvents(t, srv)
	for _, ev := range evs {
		if ev.typ == "noname_cancellation-1" {
			cancels = append(cancels, ev)
		}
	}
	want := []struct {
		typ  string
		card int64
	}{{"PARTIAL", cardOf["e5"]}, {"FULL", cardOf["e1"]}}
	if len(cancels) != len(want) {
		t.Fatalf("%d noname_cancellation-1 events, want 2", len(cancels))
	}
	for i, w := range want {
		d := cancels[i].data
		ids, _ := d["card_ids"].([]any)
		if str(t, d, "bulk_id") != id || str(t, d, "cancel_type") != w.typ || len(ids) != 1 || !isInteger(ids[0]) {
			t.Errorf("noname_cancellation-1 %d: %v", i, cancels[i].raw)
			continue
		}
		if got, _ := strconv.ParseInt(ids[0].(json.Number).String(), 10, 64); got != w.card {
			t.Errorf("noname_cancellation-1 %d names card %d, want %d", i, got, w.card)
		}
		if u := eventsOf(t, evs, "update-1", w.card); len(u) != 1 || str(t, u[0].data, "card_status") != "CANCELED" {
			t.Errorf("update-1 of canceled card %d: %v", w.card, u)
		}
	}
}

func (e *env) testFeed(t *testing.T) {
	const org = "o-feed"
	srv := serverTok(t, org)
	items, next := e.feedPage(t, srv, "")
	if len(items) != 0 || next != 0 {
		t.Errorf("empty feed: %d events, next_after %d", len(items), next)
	}
	var ids []int64
	for i := range 3 {
		ids = append(ids, integer(t, e.createCard(t, srv, acct, cust, virtual("Feed "+strconv.Itoa(i))), "id"))
	}
	all := e.allEvents(t, srv)
	if len(all) != 3 {
		t.Fatalf("feed holds %d events, want 3", len(all))
	}
	for i, ev := range all {
		d := ev.data
		if ev.typ != "create-1" || integer(t, d, "card_id") != ids[i] || integer(t, d, "program_id") != 1 ||
			str(t, d, "account_id") != acct || str(t, d, "customer_id") != cust || str(t, d, "card_status") != "NORMAL" ||
			str(t, d, "card_type") != "VIRTUAL" || integer(t, d, "version") != 1 || integer(t, ev.raw, "schema_version") < 1 {
			t.Errorf("event %d: %v", i, ev.raw)
		}
	}
	first, next := e.feedPage(t, srv, q("limit", "1"))
	if len(first) != 1 || first[0].id != all[0].id || next != first[0].seq {
		t.Errorf("limit=1: %d events, next_after %d", len(first), next)
	}
	second, _ := e.feedPage(t, srv, q("after", strconv.FormatInt(next, 10), "limit", "1"))
	if len(second) != 1 || second[0].id != all[1].id {
		t.Errorf("after=%d&limit=1: %v", next, second)
	}
	dflt, _ := e.feedPage(t, srv, "")
	if len(dflt) != 3 {
		t.Errorf("default page: %d events", len(dflt))
	}
	e.feedPage(t, srv, q("limit", "1000"))
	end := all[2].seq + 1000
	items, next = e.feedPage(t, srv, q("after", strconv.FormatInt(end, 10)))
	if len(items) != 0 || next != end {
		t.Errorf("page past the end: %d events, next_after %d, want 0 and %d", len(items), next, end)
	}
	for _, bad := range []string{q("after", "abc"), q("after", "1.5"), q("limit", "abc"), q("limit", "0"), q("limit", "-1")} {
		e.do(t, "GET", "/events"+bad, srv, nil).wantErr(t, http.StatusBadRequest, "")
	}
	// Scoped to the token's org.
	for _, ev := range e.allEvents(t, serverTok(t, "o-feed-other")) {
		t.Errorf("another org sees event %v", ev.raw)
	}
}

// testBodyLimit: bodies over 1 MiB are 413 with the section 6 body,
// whether or not they announce their length.
func (e *env) testBodyLimit(t *testing.T) {
	const org = "o-limit"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Limit")), "id")
	sized := func(n int) []byte {
		head := `{"type":"VIRTUAL","name":"Big","cvv_rotation_interval_hours":0,"metadata":{"k":"`
		tail := `"}}`
		return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
	}
	hdr := []string{"x-account-id", acct, "x-customer-id", cust}
	for _, chunked := range []bool{false, true} {
		e.doRaw(t, "POST", "/wallet/v2/cards", acc, sized(1<<20+1), chunked, hdr...).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "POST", "/wallet/v2/cards", acc, sized(4<<20), chunked, hdr...).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "PUT", cardPath(cust, acct, id)+"/status", acc, sized(2<<20), chunked).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "POST", "/cards/v1/bulks", srv, sized(2<<20), chunked).wantErr(t, http.StatusRequestEntityTooLarge, "")
		// Exactly 1 MiB is not over the limit: the metadata rule answers.
		r := e.doRaw(t, "POST", "/wallet/v2/cards", acc, sized(1<<20), chunked, hdr...)
		r.wantErr(t, http.StatusBadRequest, "metadata")
	}
	if s := str(t, cardBody(t, e.do(t, "GET", cardPath(cust, acct, id), srv, nil), http.StatusOK), "status"); s != "NORMAL" {
		t.Errorf("card status %s after refused updates", s)
	}
}

// testPrecedence: when several errors apply, 401, 400 for path ids, 403,
// 413, 400 for the body, 404, 409 — the first wins (SPEC 7.1).
func (e *env) testPrecedence(t *testing.T) {
	const org = "o-order"
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	expired := mint(t, httpapi.Claims{OrgID: org, AccountID: acct}, time.Minute, time.Now().Add(-time.Hour), testSecret)
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Order")), "id")
	big := []byte(`{"status":"` + strings.Repeat("B", 2<<20) + `"}`)
	bigBad := []byte(`{"status":` + strings.Repeat("[", 2<<20))

	t.Run("401 before 400 path id", func(t *testing.T) {
		for _, tok := range []string{"", expired} {
			e.do(t, "GET", cardPath("abc", "abc", "abc"), tok, nil).wantErr(t, http.StatusUnauthorized, "")
			e.do(t, "PUT", cardPath(cust, acct, "abc")+"/status", tok, `{`).wantErr(t, http.StatusUnauthorized, "")
			e.do(t, "GET", v2Path("abc"), tok, nil).wantErr(t, http.StatusUnauthorized, "")
		}
	})
	t.Run("400 path id before 403", func(t *testing.T) {
		e.do(t, "GET", cardPath(cust, otherAcc, "abc"), acc, nil).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", cardPath(cust, otherAcc, "abc")+"/status", acc, map[string]any{"status": "BLOCKED"}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "GET", v2Path("abc"), acc, nil).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("403 before 413", func(t *testing.T) {
		e.doRaw(t, "PUT", cardPath(cust, otherAcc, id)+"/status", acc, big, false).wantErr(t, http.StatusForbidden, "")
		e.doRaw(t, "POST", "/wallet/v2/cards", acc, big, true, "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		e.doRaw(t, "POST", "/cards/v1/bulks", acc, big, false).wantErr(t, http.StatusForbidden, "")
	})
	t.Run("403 before 400 body and 404", func(t *testing.T) {
		e.do(t, "PUT", cardPath(cust, otherAcc, 987654321)+"/status", acc, `{`).wantErr(t, http.StatusForbidden, "")
	})
	t.Run("413 before 400 body", func(t *testing.T) {
		e.doRaw(t, "PUT", cardPath(cust, acct, id)+"/status", acc, bigBad, false).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, bigBad, true).wantErr(t, http.StatusRequestEntityTooLarge, "")
	})
	t.Run("400 body before 404", func(t *testing.T) {
		e.do(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, `{`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, map[string]any{"status": "PAUSED"}).
			wantErr(t, http.StatusBadRequest, "status")
	})
	t.Run("404 before 409", func(t *testing.T) {
		e.do(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, map[string]any{"status": "INOPERATIVE"}).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", cardPath(otherCus, acct, id)+"/status", srv, map[string]any{"status": "INOPERATIVE"}).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", cardPath(cust, otherAcc, id)+"/activate", srv, nil).wantErr(t, http.StatusNotFound, "")
	})
}

// testRaces: concurrent requests on one card or one key (SPEC 3, 4, 7.1).
func (e *env) testRaces(t *testing.T) {
	const org = "o-race"
	const n = 8
	srv := serverTok(t, org)
	acc := accountTok(t, org, acct)
	reason := e.createReason(t, srv, "Damaged", false, true)
	race := func(f func(i int) resp) []resp {
		out := make([]resp, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = f(i)
			}()
		}
		wg.Wait()
		return out
	}

	t.Run("reissue one card", func(t *testing.T) {
		id := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
		succ := map[int64]bool{}
		for _, r := range race(func(int) resp {
			return e.do(t, "POST", cardPath(cust, acct, id)+"/reissue", acc, map[string]any{"reason_id": reason})
		}) {
			if r.status != http.StatusOK {
				t.Errorf("%s: want 200", r)
				continue
			}
			succ[integer(t, r.obj(t), "id")] = true
		}
		if len(succ) != 1 {
			t.Errorf("concurrent reissues made %d successors, want 1", len(succ))
		}
	})
	t.Run("bind one card", func(t *testing.T) {
		b := e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": []string{"r1"}}).
			want(t, http.StatusCreated)
		e.do(t, "POST", "/cards/v1/bulks/"+str(t, b, "id")+"/start", srv, nil).wantCode(t, http.StatusAccepted)
		var id int64
		for _, ev := range e.allEvents(t, srv) {
			if ev.typ == "create-1" && ev.data["external_id"] == "r1" {
				id = integer(t, ev.data, "card_id")
			}
		}
		codes := map[int]int{}
		for _, r := range race(func(int) resp {
			return e.do(t, "PUT", v2Path(id)+"/noname/bind", acc, `{}`, "x-account-id", acct, "x-customer-id", cust)
		}) {
			codes[r.status]++
			if r.status == http.StatusConflict {
				r.wantConflict(t, "CREATED", "")
			}
		}
		if codes[http.StatusAccepted] != 1 || codes[http.StatusConflict] != n-1 {
			t.Errorf("concurrent binds answered %v, want one 202 and %d 409", codes, n-1)
		}
	})
	t.Run("create with one key", func(t *testing.T) {
		var first []byte
		for _, r := range race(func(int) resp {
			return e.do(t, "POST", "/wallet/v2/cards", acc, virtual("Raced"),
				"x-account-id", acct, "x-customer-id", cust, "x-idempotency-key", "race-key")
		}) {
			switch r.status {
			case http.StatusCreated:
				if first == nil {
					first = r.raw
				} else if !bytes.Equal(first, r.raw) {
					t.Errorf("two answers for one key: %s and %s", first, r.raw)
				}
			case http.StatusConflict: // the first request was still in flight
			default:
				t.Errorf("%s: want 201 or 409", r)
			}
		}
		made := 0
		for _, ev := range e.allEvents(t, srv) {
			if ev.typ == "create-1" && ev.data["card_name"] == "Raced" {
				made++
			}
		}
		if made != 1 {
			t.Errorf("one key made %d cards, want 1", made)
		}
	})
}

package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestE2E runs the reference API (SPEC section 7) behind a real listener on
// every database, as a client sees it. Each part works in an org of its own;
// the parts live with their concern (cards_test.go, auth_test.go...).
func TestE2E(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		for _, part := range []struct {
			name string
			run  func(*env, *testing.T)
		}{
			{"Service", (*env).testService}, {"Tokens", (*env).testTokens}, {"Cards", (*env).testCards},
			{"Validation", (*env).testValidation}, {"Access", (*env).testAccess},
			{"CreateIdempotency", (*env).testCreateIdempotency}, {"Reasons", (*env).testReasons},
			{"Reissue", (*env).testReissue}, {"Bulks", (*env).testBulks}, {"Feed", (*env).testFeed},
			{"BodyLimit", (*env).testBodyLimit}, {"Precedence", (*env).testPrecedence}, {"Races", (*env).testRaces},
		} {
			t.Run(part.name, func(t *testing.T) { part.run(e, t) })
		}
	})
}

// testService: health, the OpenAPI document, and the error body of
// unknown routes.
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

package httpapi

import (
	"net/http"
	"strconv"
	"testing"
)

// testReasons: the reissue reasons catalogue, its pages and its filter
// (SPEC 3, 7.1).
func (e *env) testReasons(t *testing.T) {
	srv := serverTok(t, "o-reasons")
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

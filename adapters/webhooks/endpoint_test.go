package webhooks_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/events"
)

func TestSelects(t *testing.T) {
	all := webhooks.Endpoint{OrgID: "acme"}
	some := webhooks.Endpoint{OrgID: "acme", EventTypes: []events.Type{events.CardCreated, events.CustomerBound}}
	tests := []struct {
		name string
		ep   webhooks.Endpoint
		org  string
		typ  events.Type
		want bool
	}{
		{"all types, own org", all, "acme", events.CardUpdated, true},
		{"all types, another org", all, "globex", events.CardUpdated, false},
		{"an org that differs in case", all, "ACME", events.CardUpdated, false},
		{"a listed type", some, "acme", events.CustomerBound, true},
		{"a type not listed", some, "acme", events.CardUpdated, false},
		{"a listed type of another org", some, "globex", events.CardCreated, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ep.Selects(events.Event{OrgID: tt.org, Type: tt.typ}); got != tt.want {
				t.Fatalf("Selects = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := webhooks.NewSecret()
		enc, ok := strings.CutPrefix(s, "whsec_")
		key, err := base64.StdEncoding.DecodeString(enc)
		if !ok || err != nil || len(key) < 24 || len(key) > 64 {
			t.Fatalf("NewSecret = %q: not whsec_ and base64 of 24 to 64 bytes", s)
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
	}
}

func TestEndpointStringLeaksNothing(t *testing.T) {
	ep := webhooks.Endpoint{ID: "ep_1", URL: "https://user:pw@hooks.example.com/in/tok123?key=k456", Secret: webhooks.NewSecret()}
	for _, s := range []string{ep.String(), fmt.Sprint(ep), fmt.Sprintf("%+v", ep)} {
		if s != "endpoint ep_1 (https://hooks.example.com)" {
			t.Errorf("%q, want the id and the host only", s)
		}
		for _, secret := range []string{"pw", "tok123", "k456", ep.Secret} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks %q", s, secret)
			}
		}
	}
}

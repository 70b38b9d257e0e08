package webhooks_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/card"
)

// zone is a resolver over a fixed table, so the tests ask no DNS.
type zone map[string][]string

func (z zone) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range z[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

var testZone = zone{
	"hooks.example.com":    {"203.0.113.10"},
	"public.example.com":   {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	"intranet.example.com": {"10.1.2.3"},
	"mixed.example.com":    {"93.184.215.14", "192.168.1.20"},
	"rebind.example.com":   {"::ffff:127.0.0.1"},
	"localhost":            {"93.184.215.14"}, // a lying resolver: localhost is refused by name
}

func TestValidateURL(t *testing.T) {
	tests := []struct {
		url  string
		rule string // a part of the rule broken; "" when the URL is accepted
	}{
		{"https://hooks.example.com/cardcore", ""},
		{"http://public.example.com:8080/in?token=x", ""},
		{"https://93.184.215.14/", ""},
		{"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", ""},
		{"https://192.0.2.1/", ""},     // RFC 5737 TEST-NET-1
		{"https://198.51.100.7/", ""},  // RFC 5737 TEST-NET-2
		{"https://203.0.113.250/", ""}, // RFC 5737 TEST-NET-3
		{"https://172.32.0.1/", ""},    // just past 172.16.0.0/12
		{"https://100.128.0.1/", ""},   // just past 100.64.0.0/10

		{"http://127.0.0.1:8080/", "loopback"},
		{"http://127.9.9.9/", "loopback"},
		{"http://[::1]/", "loopback"},
		{"http://localhost/", "loopback"},
		{"http://LOCALHOST./", "loopback"},
		{"http://api.localhost/", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[64:ff9b::7f00:1]/", "loopback"},
		{"https://rebind.example.com/", "loopback"},
		{"http://10.0.0.1/", "private"},
		{"http://172.16.0.1/", "private"},
		{"http://172.31.255.254/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://[::ffff:10.0.0.1]/", "private"},
		{"http://[fc00::1]/", "private"},
		{"http://[fd12:3456::1]/", "private"},
		{"http://100.64.0.1/", "private"},
		{"https://intranet.example.com/", "private"},
		{"https://mixed.example.com/", "private"},
		{"http://169.254.169.254/latest/meta-data", "link-local"},
		{"http://[fe80::1]/", "link-local"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://0.1.2.3/", "unspecified"},
		{"http://[::]/", "unspecified"},

		{"ftp://hooks.example.com/", "http or https"},
		{"file:///etc/passwd", "http or https"},
		{"hooks.example.com/in", "absolute"},
		{"/relative", "absolute"},
		{"https://", "host"},
		{"https://:443/", "host"},
		{"http://bad host/", "absolute"},
		{"https://nowhere.example.com/", "resolves"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := webhooks.ValidateURL(t.Context(), tt.url, false, testZone)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("ValidateURL = %v, want nil", err)
				}
				return
			}
			var inv *card.InvalidError
			if !errors.As(err, &inv) || inv.Field != "url" || !errors.Is(err, card.ErrInvalid) {
				t.Fatalf("ValidateURL = %v, want a *card.InvalidError on url", err)
			}
			if !strings.Contains(inv.Rule, tt.rule) {
				t.Fatalf("rule %q does not name %q", inv.Rule, tt.rule)
			}
		})
	}
}

func TestValidateURLAllowPrivate(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/", "http://localhost/", "http://10.0.0.1/", "http://[fe80::1]/", "https://intranet.example.com/"} {
		if err := webhooks.ValidateURL(t.Context(), u, true, testZone); err != nil {
			t.Errorf("ValidateURL(%s, allowPrivate) = %v", u, err)
		}
	}
	// The form is checked all the same.
	if err := webhooks.ValidateURL(t.Context(), "ftp://10.0.0.1/", true, testZone); !errors.Is(err, card.ErrInvalid) {
		t.Errorf("ValidateURL(ftp, allowPrivate) = %v, want invalid", err)
	}
}

func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://[::ffff:127.0.0.1]/", "http://[fe80::1%25eth0]/", "ftp://a/", "http://0x7f.1/", "https://[64:ff9b::a00:1]/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := webhooks.ValidateURL(context.Background(), raw, false, testZone)
		if err == nil {
			if !strings.HasPrefix(strings.ToLower(raw), "http://") && !strings.HasPrefix(strings.ToLower(raw), "https://") {
				t.Fatalf("accepted %q, which is not http or https", raw)
			}
			return
		}
		var inv *card.InvalidError
		if !errors.As(err, &inv) || inv.Field != "url" {
			t.Fatalf("ValidateURL(%q) = %v, not a *card.InvalidError on url", raw, err)
		}
	})
}

package natsjs

import "testing"

func TestSubsetOf(t *testing.T) {
	for _, c := range []struct {
		sub, filter string
		want        bool
	}{
		{"cardcore.>", "cardcore.>", true},
		{"cardcore.>", ">", true},
		{"cardcore.>", "*.>", true},
		{"prod.cardcore.>", "prod.>", true},
		{"cardcore.>", "cardcore.*", false},
		{"cardcore.>", "cardcore.*.*", false},
		{"cardcore.>", "cardcore.acme.>", false},
		{"cardcore.>", "other.>", false},
		{"cardcore.>", "cardcore", false},
		{"cardcore.acme.update-1", "cardcore.*.*", true},
		{"cardcore.acme.update-1", "cardcore.*", false},
	} {
		if got := subsetOf(c.sub, c.filter); got != c.want {
			t.Errorf("subsetOf(%q, %q) = %v, want %v", c.sub, c.filter, got, c.want)
		}
	}
}

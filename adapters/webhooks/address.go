package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/cardcore/cardcore/card"
)

// ErrRefusedAddress is the cause of a delivery whose connection was refused
// before it was made: the endpoint's host resolved to a loopback, private,
// link-local or unspecified address and private targets are not allowed.
var ErrRefusedAddress = errors.New("webhooks: address refused")

// Resolver resolves a host name to its addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ValidateURL checks an endpoint URL at registration: an absolute http or
// https URL with a host. Unless allowPrivate, it also resolves the host
// (with resolver, net.DefaultResolver when nil) and refuses it when any of
// its addresses is loopback, private, link-local or unspecified (see the
// package doc for the exact ranges). The error is a *card.InvalidError on
// the field "url" that states the rule broken.
func ValidateURL(ctx context.Context, raw string, allowPrivate bool, resolver Resolver) error {
	u, err := parseURL(raw)
	if err != nil || allowPrivate {
		return err
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if class := refusedClass(a); class != "" {
			return card.Invalid("url", fmt.Sprintf("must not be on a %s address (%s) unless private targets are allowed", class, host))
		}
		return nil
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		// RFC 6761: localhost names are loopback, whatever a resolver says.
		return card.Invalid("url", fmt.Sprintf("must not be on a loopback name (%s) unless private targets are allowed", host))
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return card.Invalid("url", fmt.Sprintf("must name a host that resolves (%s does not)", host))
	}
	for _, a := range addrs {
		if class := refusedClass(a); class != "" {
			return card.Invalid("url", fmt.Sprintf("must not be on a %s address (%s resolves to %s) unless private targets are allowed", class, host, a))
		}
	}
	return nil
}

// parseURL checks the form of an endpoint URL.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return nil, card.Invalid("url", "must be an absolute http or https URL")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return nil, card.Invalid("url", "must be an http or https URL")
	}
	if u.Hostname() == "" {
		return nil, card.Invalid("url", "must name a host")
	}
	return u, nil
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")     // RFC 1122: "this host on this network"
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598: carrier-grade NAT
	nat64       = netip.MustParsePrefix("64:ff9b::/96")  // RFC 6052: IPv4 behind a NAT64 gateway
)

// refusedClass names the class of a that a webhook may not reach without
// the operator's leave, or returns "" when a may be reached.
func refusedClass(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate() || sharedSpace.Contains(a):
		return "private"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "link-local"
	}
	return ""
}

// refuseAddress is the Control of the delivery dialer: it runs once the
// host is resolved, before each connection, so a host whose DNS changed
// since its registration is still refused.
func refuseAddress(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP address", ErrRefusedAddress, address)
	}
	if class := refusedClass(ap.Addr()); class != "" {
		return fmt.Errorf("%w: %s is a %s address", ErrRefusedAddress, ap.Addr(), class)
	}
	return nil
}

// hostOf is the scheme and host of an endpoint URL, for messages: its
// path, query and credentials may hold tokens.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid URL"
	}
	return u.Scheme + "://" + u.Host
}

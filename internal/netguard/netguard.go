// Package netguard keeps webhook deliveries from reaching the engine's own network
// (SSRF): only http and https URLs, and in live mode no loopback, private, link-local,
// unspecified or multicast address — checked when an endpoint is registered and again on
// every connection, after DNS resolution, so a name that later resolves to 127.0.0.1
// (DNS rebinding) is refused too. Test mode allows internal addresses, for local
// receivers.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned for an address live deliveries may not reach.
var ErrForbiddenAddress = errors.New("address not allowed")

// CheckURL validates a webhook URL: absolute http(s) with a host. With allowInternal
// false, a host that is an internal IP literal, or a name resolving to one, is refused.
func CheckURL(ctx context.Context, raw string, allowInternal bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errors.New("url must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return errors.New("url must not carry credentials")
	}
	if allowInternal {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return checkIP(ip)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		// A name that does not resolve yet is accepted; the dialer checks every
		// connection anyway.
		return nil
	}
	for _, a := range addrs {
		if err := checkIP(a); err != nil {
			return err
		}
	}
	return nil
}

func checkIP(ip netip.Addr) error {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || isSpecial(ip) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return nil
}

// special ranges the netip predicates do not cover: carrier-grade NAT, "this network",
// IPv4 broadcast.
var special = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("255.255.255.255/32"),
}

func isSpecial(ip netip.Addr) bool {
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// control refuses connections to internal addresses; it runs after resolution, on the
// address actually dialed.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return checkIP(ap.Addr())
}

// Client returns an HTTP client for webhook deliveries: timeout per request, no
// redirects followed (a 3xx is the answer), no proxy from the environment, and with
// allowInternal false a dialer that refuses internal addresses.
func Client(timeout time.Duration, allowInternal bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowInternal {
		d.Control = control
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

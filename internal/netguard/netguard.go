// Package netguard keeps the server's outgoing requests (a channel's provider, a webhook
// endpoint) off its own network when WAZAPIN_BLOCK_PRIVATE_ADDRESSES is on: addresses that are
// loopback, private, link-local, carrier-grade NAT, multicast or otherwise not on the public
// internet are refused.
//
// The check that holds is the one at dial time (Dialer, Control): it sees the address a name
// resolved to, so a public name that resolves to 127.0.0.1 or 10.0.0.5 is refused too. CheckURL
// is the early, friendly one: it refuses what can be seen in a URL itself (a literal private
// address, localhost) when the URL is stored, so the client gets a 422 instead of failures later.
package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked is the error for a refused address. Its text names no address.
var ErrBlocked = errors.New("the address is loopback, private or link-local, which this server refuses (WAZAPIN_BLOCK_PRIVATE_ADDRESSES)")

// blockedPrefixes are ranges not covered by netip.Addr's predicates that still lead into a
// private network rather than to the public internet.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, used inside some clouds (metadata at 100.100.100.200)
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and the broadcast address
}

// nat64 is the well-known NAT64 prefix: its addresses carry an IPv4 address in their last 4 bytes.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Blocked reports whether ip is an address the guard refuses.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function that refuses blocked addresses. It runs after name
// resolution, on the address about to be connected to.
func Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if Blocked(ip) {
		return ErrBlocked
	}
	return nil
}

// Dialer returns the dialer for outgoing requests; with block, it refuses blocked addresses.
func Dialer(block bool) *net.Dialer {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if block {
		d.Control = Control
	}
	return d
}

// Transport returns a clone of http.DefaultTransport that dials through Dialer(block). With
// block it uses no proxy: a proxy would connect on the server's behalf, past the check.
func Transport(block bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if block {
		t.DialContext = Dialer(true).DialContext
		t.Proxy = nil
	}
	return t
}

// CheckURL refuses, when block is set, a URL whose host is visibly not on the public internet: a
// literal blocked address (127.0.0.1, [::1], 10.1.2.3, 169.254.169.254) or localhost (and names
// under .localhost). Names that merely resolve to such addresses pass here and are refused at
// dial time. Without block it accepts every URL.
func CheckURL(u *url.URL, block bool) error {
	if !block {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return ErrBlocked
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if Blocked(ip) {
			return ErrBlocked
		}
		return nil
	}
	if numeric(host[strings.LastIndexByte(host, '.')+1:]) {
		// An IPv4 address in another notation (2130706433, 0x7f.1, 0177.0.0.1): some resolvers
		// read it as one. No top-level domain is numeric, so it names no public host either.
		return ErrBlocked
	}
	return nil
}

// numeric tells whether a label is a number in decimal, octal or hex (0x) notation.
func numeric(label string) bool {
	digits, hex := strings.CutPrefix(strings.ToLower(label), "0x")
	if digits == "" {
		return hex
	}
	for _, c := range digits {
		switch {
		case c >= '0' && c <= '9':
		case hex && c >= 'a' && c <= 'f':
		default:
			return false
		}
	}
	return true
}

package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/wazapin/wazapin/internal/netguard"
)

func TestBlocked(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1":          true,
		"127.9.9.9":          true,
		"::1":                true,
		"10.1.2.3":           true,
		"172.16.0.1":         true,
		"192.168.1.1":        true,
		"169.254.169.254":    true, // cloud metadata
		"100.100.100.200":    true, // carrier-grade NAT (a cloud's metadata)
		"0.0.0.0":            true,
		"0.1.2.3":            true,
		"::":                 true,
		"fe80::1":            true,
		"fd00:ec2::254":      true, // unique local (a cloud's IPv6 metadata)
		"::ffff:127.0.0.1":   true, // IPv4-mapped
		"::ffff:10.0.0.1":    true,
		"64:ff9b::a00:1":     true, // NAT64 of 10.0.0.1
		"224.0.0.1":          true,
		"255.255.255.255":    true,
		"198.18.0.1":         true,
		"8.8.8.8":            false,
		"1.1.1.1":            false,
		"2606:4700::1111":    false,
		"::ffff:8.8.8.8":     false,
		"64:ff9b::808:808":   false, // NAT64 of 8.8.8.8
		"100.63.255.255":     false,
		"172.32.0.1":         false,
		"2001:4860:4860::88": false,
	} {
		if got := netguard.Blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Blocked(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for raw, blocked := range map[string]bool{
		"http://127.0.0.1:8080/hook":         true,
		"https://[::1]/hook":                 true,
		"http://10.0.0.5/":                   true,
		"http://169.254.169.254/latest":      true,
		"http://localhost:3000/":             true,
		"http://LOCALHOST./":                 true,
		"http://api.localhost/":              true,
		"http://[fe80::1%25eth0]/":           true,
		"http://2130706433/":                 true, // 127.0.0.1 as one number
		"http://0x7f.1/":                     true,
		"http://0177.0.0.1/":                 true,
		"https://hooks.example.com/wazapin":  false,
		"https://8.8.8.8/hook":               false,
		"https://[2606:4700::1111]/":         false,
		"https://localhost.example.com/hook": false,
		"https://host-10.example.com/":       false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		err = netguard.CheckURL(u, true)
		if got := errors.Is(err, netguard.ErrBlocked); got != blocked {
			t.Errorf("CheckURL(%s, true) = %v, want blocked %v", raw, err, blocked)
		}
		if err := netguard.CheckURL(u, false); err != nil {
			t.Errorf("CheckURL(%s, false) = %v, want nil", raw, err)
		}
	}
}

// TestDialerRefusesWhatANameResolvesTo: the dial-time guard holds for names, not only literals:
// localhost passes no up-front check here, and its connection is still refused.
func TestDialerRefusesWhatANameResolvesTo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, host := range []string{"127.0.0.1", "localhost"} {
		conn, err := netguard.Dialer(true).DialContext(context.Background(), "tcp", net.JoinHostPort(host, port))
		if err == nil {
			conn.Close()
			t.Errorf("dialed %s with blocking on", host)
		} else if !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("dial %s: %v, want ErrBlocked", host, err)
		}
	}
	conn, err := netguard.Dialer(false).DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("without blocking: %v", err)
	}
	conn.Close()
	res, err := (&http.Client{Transport: netguard.Transport(true)}).Get(srv.URL)
	if err == nil {
		res.Body.Close()
		t.Error("the blocking transport reached a loopback server")
	}
}

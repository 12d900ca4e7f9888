package main

import (
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/ratelimit"
)

// TestRateLimitSettings reads WAZAPIN_RATE_LIMIT and WAZAPIN_AUTH_FAILURE_LIMIT, and refuses to
// start on a malformed one with an error that names it and shows the syntax.
func TestRateLimitSettings(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env           map[string]string
		keys, auth    ratelimit.Limit
		wantErrNaming string
	}{
		{"defaults", nil, ratelimit.Limit{PerSecond: 100, Burst: 200}, ratelimit.Limit{PerSecond: 10, Burst: 20}, ""},
		{"set", map[string]string{"WAZAPIN_RATE_LIMIT": "50/s burst 100", "WAZAPIN_AUTH_FAILURE_LIMIT": "1/s burst 5"},
			ratelimit.Limit{PerSecond: 50, Burst: 100}, ratelimit.Limit{PerSecond: 1, Burst: 5}, ""},
		{"off", map[string]string{"WAZAPIN_RATE_LIMIT": "off", "WAZAPIN_AUTH_FAILURE_LIMIT": "off"}, ratelimit.Limit{}, ratelimit.Limit{}, ""},
		{"malformed", map[string]string{"WAZAPIN_RATE_LIMIT": "100 per second"}, ratelimit.Limit{}, ratelimit.Limit{}, "WAZAPIN_RATE_LIMIT"},
		{"zero burst", map[string]string{"WAZAPIN_RATE_LIMIT": "100/s burst 0"}, ratelimit.Limit{}, ratelimit.Limit{}, "WAZAPIN_RATE_LIMIT"},
		{"malformed auth", map[string]string{"WAZAPIN_AUTH_FAILURE_LIMIT": "10/s"}, ratelimit.Limit{}, ratelimit.Limit{}, "WAZAPIN_AUTH_FAILURE_LIMIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFrom(tc.env)
			if tc.wantErrNaming != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrNaming) || !strings.Contains(err.Error(), "100/s burst 200") {
					t.Fatalf("err %v, want one naming %s and showing the syntax", err, tc.wantErrNaming)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.server.RateLimit != tc.keys || c.server.AuthFailureLimit != tc.auth {
				t.Errorf("limits %v and %v, want %v and %v", c.server.RateLimit, c.server.AuthFailureLimit, tc.keys, tc.auth)
			}
		})
	}
}

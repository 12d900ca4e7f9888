package webhooks

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0}, {"abc", 0}, {"-5", 0}, {"0", 0}, {"7", 7 * time.Second}, {" 7 ", 7 * time.Second},
		{"100000", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(c.header, now); got != c.want {
			t.Errorf("Retry-After %q: %s, want %s", c.header, got, c.want)
		}
	}
}

func TestJitterStaysWithinATenth(t *testing.T) {
	for range 1000 {
		if d := jitter(time.Hour); d < 54*time.Minute || d > 66*time.Minute {
			t.Fatalf("jitter(1h) = %s", d)
		}
	}
}

func TestSnippetIsShortPrintableText(t *testing.T) {
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'a'
	}
	for in, want := range map[string]string{
		"":                    "",
		"  upstream\n\tdown ": "upstream down",
		"bad \xff utf8":       "bad utf8",
		string(long):          string(long[:200]),
	} {
		if got := snippet([]byte(in)); got != want {
			t.Errorf("snippet(%.20q) = %q, want %q", in, got, want)
		}
	}
}

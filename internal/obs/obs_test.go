package obs_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/obs"
)

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		format, level string
		want          string // in the output of one Info line; "" when it must be dropped
		err           bool
	}{
		{"", "", "level=INFO msg=hello", false},
		{"text", "debug", "level=INFO msg=hello", false},
		{"JSON", "info", `"msg":"hello"`, false},
		{"json", "warn", "", false},
		{"xml", "", "", true},
		{"text", "loud", "", true},
	} {
		t.Run(tc.format+"/"+tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := obs.NewLogger(&buf, tc.format, tc.level)
			if tc.err {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Info("hello")
			if got := buf.String(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRequestIDs(t *testing.T) {
	ids := obs.NewRequestIDs()
	for _, sent := range []string{"abc-123", strings.Repeat("x", obs.MaxRequestIDLen), "!~"} {
		if got := ids.For(sent); got != sent {
			t.Errorf("For(%q) = %q, want it kept", sent, got)
		}
	}
	seen := map[string]bool{}
	for _, sent := range []string{"", " ", "a b", "tab\there", strings.Repeat("x", obs.MaxRequestIDLen+1), "caf\u00e9", "new\nline"} {
		got := ids.For(sent)
		if got == sent || !obs.ValidRequestID(got) || seen[got] {
			t.Errorf("For(%q) = %q, want a new valid id", sent, got)
		}
		seen[got] = true
	}
	if a, b := obs.NewRequestIDs().For(""), obs.NewRequestIDs().For(""); a == b {
		t.Errorf("two processes made the same id %q", a)
	}
}

func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", "a b", "caf\u00e9", strings.Repeat("z", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !obs.ValidRequestID(s) {
			return
		}
		if len(s) == 0 || len(s) > obs.MaxRequestIDLen || strings.ContainsAny(s, " \t\r\n\x00\x7f") {
			t.Errorf("%q accepted", s)
		}
	})
}

// syncWriter records what reaches the underlying writer.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	n   int // writes
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestBufferedWriter(t *testing.T) {
	t.Run("lines reach the writer within the interval, in one write", func(t *testing.T) {
		out := &syncWriter{}
		w := obs.NewBufferedWriter(out, 20*time.Millisecond)
		defer w.Close()
		for range 100 {
			_, _ = w.Write([]byte("line\n"))
		}
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(out.String(), "line\n") < 100 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := strings.Count(out.String(), "line\n"); got != 100 {
			t.Fatalf("%d lines written", got)
		}
		if out.n > 10 {
			t.Errorf("%d writes for 100 lines", out.n)
		}
	})
	t.Run("close writes what is left", func(t *testing.T) {
		out := &syncWriter{}
		w := obs.NewBufferedWriter(out, time.Hour)
		_, _ = w.Write([]byte("last words\n"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != "last words\n" {
			t.Errorf("wrote %q", out.String())
		}
	})
}

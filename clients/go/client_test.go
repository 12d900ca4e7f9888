package wazapin_test

import (
	"net/http"
	"testing"

	wazapin "github.com/wazapin/wazapin/clients/go"
)

// answers is a doer that answers each request with the next token and records what was sent.
type answers struct {
	tokens []string
	sent   []string
}

func (a *answers) Do(r *http.Request) (*http.Response, error) {
	a.sent = append(a.sent, r.Header.Get(wazapin.ConsistencyHeader))
	h := http.Header{}
	if t := a.tokens[0]; t != "" {
		h.Set(wazapin.ConsistencyHeader, t)
	}
	a.tokens = a.tokens[1:]
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: http.NoBody}, nil
}

func TestConsistentSendsTheNewestToken(t *testing.T) {
	doer := &answers{tokens: []string{
		"",            // a read: no token yet, none given
		"0/16B3D0",    // a write
		"",            // a read
		"0/16B3C0",    // a write answered late, older than the one before
		"1/0",         // a write past the 4 GiB mark: compared as a number, not as text
		"not a token", // ignored
		"",
	}}
	c := &wazapin.Consistent{Doer: doer}
	for range doer.tokens {
		req, _ := http.NewRequest("GET", "http://wazapin.test/v1/contacts", nil)
		if _, err := c.Do(req); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"", "", "0/16B3D0", "0/16B3D0", "0/16B3D0", "1/0", "1/0"}
	for i := range want {
		if doer.sent[i] != want[i] {
			t.Errorf("request %d sent %q, want %q (all: %q)", i, doer.sent[i], want[i], doer.sent)
		}
	}
}

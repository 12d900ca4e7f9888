package providertest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const businessToken = "fake-business-token-9c41"

// FakeBusinessAPI is the WhatsApp Business API contacts check: POST /v1/contacts with the bearer
// token of Credentials and a body {"blocking": "wait", "contacts": [1 to 100 E.164 numbers],
// "force_check": true}. It answers the contacts in reverse order, since the API does not promise
// any.
type FakeBusinessAPI struct {
	*server
}

// NewBusinessAPI starts a fake business API. When tb is not nil it is closed as the test ends.
func NewBusinessAPI(tb testing.TB, cfg Config) *FakeBusinessAPI {
	b := &FakeBusinessAPI{}
	b.server = start(tb, cfg, b.serve)
	return b
}

// Credentials are the channel credentials the fake accepts.
func (b *FakeBusinessAPI) Credentials() json.RawMessage {
	return credentials(map[string]string{"base_url": b.URL(), "access_token": businessToken})
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (b *FakeBusinessAPI) serve(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case r.URL.Path != "/v1/contacts":
		b.refuse(w, r, http.StatusNotFound, "no such endpoint")
		return
	case r.Method != http.MethodPost:
		b.refuse(w, r, http.StatusBadRequest, "method must be POST")
		return
	case r.URL.RawQuery != "":
		b.refuse(w, r, http.StatusBadRequest, "unexpected query %q", r.URL.RawQuery)
		return
	case r.Header.Get("Authorization") != "Bearer "+businessToken:
		b.refuse(w, r, http.StatusUnauthorized, "Authorization is not Bearer and the channel's token")
		return
	case mediaType != "application/json":
		b.refuse(w, r, http.StatusBadRequest, "Content-Type is %q, want application/json", r.Header.Get("Content-Type"))
		return
	}
	phones, problem := readCheck(r.Body)
	if problem != "" {
		b.refuse(w, r, http.StatusBadRequest, "%s", problem)
		return
	}
	b.respond(w, r, func() {
		contacts := make([]map[string]string, 0, len(phones))
		for _, phone := range slices.Backward(phones) {
			digits := strings.TrimPrefix(phone, "+")
			if c, ok := b.cfg.Contacts[digits]; ok {
				contacts = append(contacts, map[string]string{"input": phone, "status": "valid", "wa_id": cmp.Or(c.WaID, digits)})
			} else {
				contacts = append(contacts, map[string]string{"input": phone, "status": "invalid"})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"contacts": contacts, "meta": meta})
	}, `{"contacts": {"input": 62, "status": true}}`, map[string]any{
		"errors": []map[string]any{{"code": cmp.Or(b.cfg.ErrorCode, 1014), "title": "Fake error", "details": "set by the test"}},
		"meta":   meta,
	})
}

var meta = map[string]string{"api_status": "stable", "version": "2.53.1"}

// readCheck returns the numbers of a contacts check body, or what is wrong with it.
func readCheck(body io.Reader) ([]string, string) {
	data, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return nil, "body could not be read"
	}
	var check struct {
		Blocking   *string  `json:"blocking"`
		Contacts   []string `json:"contacts"`
		ForceCheck *bool    `json:"force_check"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&check); err != nil || dec.More() {
		return nil, "body is not the contacts check object: " + string(data)
	}
	switch {
	case check.Blocking == nil || *check.Blocking != "wait":
		return nil, `blocking must be "wait"`
	case check.ForceCheck == nil || !*check.ForceCheck:
		return nil, "force_check must be true"
	case len(check.Contacts) == 0 || len(check.Contacts) > 100:
		return nil, "contacts must hold 1 to 100 numbers"
	}
	seen := map[string]bool{}
	for _, phone := range check.Contacts {
		if !e164.MatchString(phone) {
			return nil, "contact " + phone + " is not E.164"
		}
		if seen[phone] {
			return nil, "contact " + phone + " is asked twice"
		}
		seen[phone] = true
	}
	return check.Contacts, ""
}

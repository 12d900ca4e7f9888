package providertest

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const gatewayKey = "fake-gateway-key-7f3a"

// FakeGateway is a WAHA-compatible WhatsApp HTTP gateway: GET /api/contacts/check-exists,
// /api/contacts and /api/contacts/profile-picture, with the X-Api-Key of Credentials and the
// configured session. For a known number without Name and PushName /api/contacts answers 404,
// and without PictureURL the picture endpoint does; a profile asked for a number that is not on
// WhatsApp is a mismatch.
type FakeGateway struct {
	*server
	session string
	byWaID  map[string]Contact
}

// NewGateway starts a fake gateway. When tb is not nil it is closed as the test ends.
func NewGateway(tb testing.TB, cfg Config) *FakeGateway {
	g := &FakeGateway{session: cmp.Or(cfg.Session, "default"), byWaID: map[string]Contact{}}
	for digits, c := range cfg.Contacts {
		g.byWaID[cmp.Or(c.WaID, digits)] = c
	}
	g.server = start(tb, cfg, g.serve)
	return g
}

// Credentials are the channel credentials the fake accepts.
func (g *FakeGateway) Credentials() json.RawMessage {
	c := map[string]string{"base_url": g.URL(), "api_key": gatewayKey}
	if g.cfg.Session != "" {
		c["session"] = g.cfg.Session
	}
	return credentials(c)
}

const (
	checkPath   = "/api/contacts/check-exists"
	contactPath = "/api/contacts"
	picturePath = "/api/contacts/profile-picture"
)

func (g *FakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	param := "contactId"
	switch r.URL.Path {
	case checkPath:
		param = "phone"
	case contactPath, picturePath:
	default:
		g.refuse(w, r, http.StatusNotFound, "no such endpoint")
		return
	}
	switch {
	case r.Method != http.MethodGet:
		g.refuse(w, r, http.StatusBadRequest, "method must be GET")
		return
	case r.Header.Get("X-Api-Key") != gatewayKey:
		g.refuse(w, r, http.StatusUnauthorized, "X-Api-Key is not the channel's key")
		return
	case r.Header.Get("Accept") != "application/json":
		g.refuse(w, r, http.StatusBadRequest, "Accept is %q, want application/json", r.Header.Get("Accept"))
		return
	}
	value, problem := g.query(r.URL.RawQuery, param)
	if problem != "" {
		g.refuse(w, r, http.StatusBadRequest, "%s", problem)
		return
	}

	if r.URL.Path == checkPath {
		if !digitsOnly(value) {
			g.refuse(w, r, http.StatusBadRequest, "phone %q is not the number's digits", value)
			return
		}
		g.respond(w, r, func() {
			c, ok := g.cfg.Contacts[value]
			if !ok {
				writeJSON(w, http.StatusOK, map[string]any{"numberExists": false})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"numberExists": true, "chatId": cmp.Or(c.WaID, value) + "@c.us"})
		}, `{"numberExists": "yes", "chatId": 62}`, nil)
		return
	}

	waID, ok := strings.CutSuffix(value, "@c.us")
	c, known := g.byWaID[waID]
	if !ok || !known {
		g.refuse(w, r, http.StatusNotFound, "contactId %q is not the chatId of an account on WhatsApp", value)
		return
	}
	g.respond(w, r, func() {
		switch {
		case r.URL.Path == picturePath && c.PictureURL == "":
			http.Error(w, "no profile picture", http.StatusNotFound)
		case r.URL.Path == picturePath:
			writeJSON(w, http.StatusOK, map[string]any{"profilePictureURL": c.PictureURL})
		case c.Name == "" && c.PushName == "":
			http.Error(w, "contact not found", http.StatusNotFound)
		default:
			writeJSON(w, http.StatusOK, map[string]any{
				"id": value, "number": waID, "name": nullable(c.Name), "pushname": nullable(c.PushName),
				"isBusiness": c.IsBusiness, "isMyContact": c.Name != "", "isUser": true,
			})
		}
	}, `{"name": ["not", "a", "string"]}`, nil)
}

// query returns the value of param, checking that the query holds exactly param and the
// fake's session, once each.
func (g *FakeGateway) query(raw, param string) (string, string) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", "query does not parse"
	}
	for k, v := range q {
		if k != param && k != "session" {
			return "", "unexpected query parameter " + k
		}
		if len(v) != 1 {
			return "", "query parameter " + k + " given more than once"
		}
	}
	if s := q.Get("session"); s != g.session {
		return "", "session is " + `"` + s + `", want "` + g.session + `"`
	}
	if q.Get(param) == "" {
		return "", "query parameter " + param + " is missing"
	}
	return q.Get(param), ""
}

func digitsOnly(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// nullable writes an unknown name as null, as the gateway does.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

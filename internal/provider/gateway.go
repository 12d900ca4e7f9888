package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wazapin/wazapin/internal/identity"
)

// gateway speaks the contacts API of a WAHA-compatible WhatsApp HTTP gateway: one existence check
// per number, then the contact and its profile picture for the numbers that exist.
type gateway struct {
	api     endpoint
	baseURL string
	session string
	limit   int
}

var sessionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

func newGateway(credentials json.RawMessage, opts Options) (Provider, error) {
	c := readCredentials(credentials, "base_url", "api_key", "session")
	baseURL := c.baseURL("base_url")
	apiKey := c.secret("api_key", 512)
	session, given := c.optional("session", "default")
	if given && !sessionName.MatchString(session) {
		c.fail("session", "must be 1 to 100 letters, digits, '_' or '-'")
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	header := http.Header{"X-Api-Key": {apiKey}, "Accept": {"application/json"}}
	return &gateway{
		api:     newEndpoint(opts, "whatsapp gateway", header),
		baseURL: baseURL,
		session: session,
		limit:   opts.Concurrency,
	}, nil
}

func (g *gateway) Lookup(ctx context.Context, phones []string) ([]Result, error) {
	limit, give, err := g.api.take(ctx, min(g.limit, len(phones)))
	if err != nil {
		return nil, err
	}
	defer give()
	results := make([]Result, len(phones))
	err = forEach(ctx, len(phones), limit, func(ctx context.Context, i int) error {
		var err error
		results[i], err = g.lookup(ctx, phones[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func (g *gateway) url(path, param, value string) string {
	return g.baseURL + path + "?" + url.Values{param: {value}, "session": {g.session}}.Encode()
}

func (g *gateway) lookup(ctx context.Context, phone string) (Result, error) {
	const step = "check-exists"
	var check struct {
		NumberExists *bool  `json:"numberExists"`
		ChatID       string `json:"chatId"`
	}
	digits := strings.TrimPrefix(phone, "+")
	if err := g.api.call(ctx, step, http.MethodGet, g.url("/api/contacts/check-exists", "phone", digits), nil, &check); err != nil {
		return Result{}, err
	}
	if check.NumberExists == nil {
		return Result{}, g.api.fail(step, "answer has no numberExists", ErrBadResponse)
	}
	if !*check.NumberExists {
		return Result{Phone: phone}, nil
	}
	// The chat id, not the number, names the account: for some numbers (older Brazilian mobiles)
	// WhatsApp's id has different digits.
	rawID, _, _ := strings.Cut(check.ChatID, "@")
	waID, err := identity.NormalizeWaID(rawID)
	if err != nil || waID != rawID {
		return Result{}, g.api.fail(step, "answer for an existing number has no usable chatId", ErrBadResponse)
	}
	profile, err := g.profile(ctx, check.ChatID)
	if err != nil {
		return Result{}, err
	}
	return Result{Phone: phone, Exists: true, WaID: waID, Profile: profile}, nil
}

// profile gathers what the gateway shows of an account. A 404 from either call means the gateway
// has nothing to show (no saved name, a hidden picture), which is an answer, not a failure.
func (g *gateway) profile(ctx context.Context, chatID string) (*Profile, error) {
	var p Profile
	var contact struct {
		Name       string `json:"name"`
		Pushname   string `json:"pushname"`
		IsBusiness *bool  `json:"isBusiness"`
	}
	err := g.api.call(ctx, "contact", http.MethodGet, g.url("/api/contacts", "contactId", chatID), nil, &contact)
	switch {
	case err == nil:
		p.Name = clip(cmp.Or(contact.Name, contact.Pushname), maxProfileName)
		p.IsBusiness = contact.IsBusiness
	case !isNotFound(err):
		return nil, err
	}
	var picture struct {
		URL *string `json:"profilePictureURL"`
	}
	err = g.api.call(ctx, "profile-picture", http.MethodGet, g.url("/api/contacts/profile-picture", "contactId", chatID), nil, &picture)
	switch {
	case err == nil:
		if picture.URL != nil && len(*picture.URL) <= maxPictureURL && webURL(*picture.URL) {
			p.PictureURL = *picture.URL
		}
	case !isNotFound(err):
		return nil, err
	}
	if p == (Profile{}) {
		return nil, nil
	}
	return &p, nil
}

// Bounds on profile text: a provider is outside our control, and what it says is passed on to
// API clients for every number of a batch.
const (
	maxProfileName = 256
	maxPictureURL  = 2048
)

// clip shortens s to at most n characters, dropping control characters, which no name needs.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// webURL reports whether s can be handed to API clients as a picture link. A picture is an
// extra, so anything else is dropped rather than failing the lookup.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

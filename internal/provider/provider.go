// Package provider asks the messaging provider behind a connected channel what it knows about
// phone numbers: whether they are on WhatsApp, under which wa_id, with which profile. Each
// platform's adapter speaks that provider's documented HTTP protocol; the errors below are the
// only failures an adapter returns, so the API can answer them the same way for every provider.
package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/netguard"
)

// Platforms a channel can be on.
const (
	WhatsAppGateway     = "whatsapp_gateway"      // a WAHA-compatible WhatsApp HTTP gateway
	WhatsAppBusinessAPI = "whatsapp_business_api" // the WhatsApp Business API contacts check (On-Premises compatible)
)

// Result is what the provider knows about one phone number.
type Result struct {
	Phone   string   // E.164, as asked
	Exists  bool     // the number is on WhatsApp
	WaID    string   // WhatsApp's id for it; empty when it does not exist
	Profile *Profile // nil when the provider has none
}

// Profile is a WhatsApp profile as the provider sees it; empty fields are unknown.
type Profile struct {
	Name       string
	PictureURL string
	IsBusiness *bool
}

// Provider looks numbers up. Lookup answers one Result per phone, in the same order; phones are
// E.164 and distinct. It returns within ctx's deadline.
type Provider interface {
	Lookup(ctx context.Context, phones []string) ([]Result, error)
}

// The failures of a lookup. Adapters wrap them (fmt.Errorf("...: %w", ErrUnavailable)) with a
// message that never contains credentials or the provider's response body.
var (
	ErrUnavailable  = errors.New("the provider could not be reached or failed")
	ErrUnauthorized = errors.New("the provider rejected the channel's credentials")
	ErrTimeout      = errors.New("the provider did not answer in time")
	ErrBadResponse  = errors.New("the provider answered with something it should not have")
)

// Options tune how adapters talk to providers.
type Options struct {
	Client      *http.Client // shared by every adapter; timeouts come from the lookup's context
	Concurrency int          // most requests in flight to one provider during one lookup (default 8)
	// Slots, when set, is the bound on the requests in flight to the channel's provider that
	// every lookup through it shares, wherever it runs: a lookup takes its places there before
	// its first request, and has no more requests in flight than it got places.
	Slots Slots
}

// Slots is a bound on the requests in flight to one provider, shared by the lookups through it.
// Take waits until it can take at least one place, takes at most want, and returns how many it
// took and the function that gives them back. When ctx ends first it fails with ctx's error,
// which Lookup words as a request's (ErrTimeout); any other error of its own, such as places that
// cannot be counted or stayed taken, Lookup returns as it is.
type Slots interface {
	Take(ctx context.Context, want int) (taken int, give func(), err error)
}

// New returns the adapter for a platform with its credentials (a JSON object). It fails with an
// apperr Invalid error naming each bad credential field ("credentials.base_url"), so the same
// call validates credentials when a channel is created.
func New(platform string, credentials json.RawMessage, opts Options) (Provider, error) {
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 8
	}
	switch platform {
	case WhatsAppGateway:
		return newGateway(credentials, opts)
	case WhatsAppBusinessAPI:
		return newBusinessAPI(credentials, opts)
	}
	return nil, apperr.InvalidField("platform", "must be one of whatsapp_gateway, whatsapp_business_api")
}

// NewClient returns the HTTP client for talking to providers. With blockPrivate it refuses to
// connect to loopback, private, link-local and other non-public addresses, whatever name resolves
// to them (see internal/netguard), so a channel's base_url cannot reach the server's own network.
func NewClient(blockPrivate bool) *http.Client {
	t := netguard.Transport(blockPrivate)
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// Package wazapin makes the Go client generated from openapi.yaml (gen/api) ready to use: it
// sends the API key with every request, and carries the consistency token of every write's
// answer on to the requests after it, so that one client always reads its own writes, also
// from a server that reads from streaming replicas.
//
//	c, err := wazapin.New("http://127.0.0.1:8080", os.Getenv("WAZAPIN_API_KEY"))
//	created, err := c.CreateContactWithResponse(ctx, nil, api.CreateContactJSONRequestBody{…})
//	got, err := c.GetContactWithResponse(ctx, id, nil) // sees the contact, whatever replica serves it
package wazapin

import (
	"context"
	"net/http"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/replica"
)

// ConsistencyHeader carries the consistency token, on a write's answer and on the reads after it.
const ConsistencyHeader = "Wazapin-Consistency"

// New returns a client of the server at base (such as http://127.0.0.1:8080) that acts with
// apiKey (none when empty). opts are the generated client's: WithHTTPClient's doer sends the
// requests, and the tokens are carried around it.
func New(base, apiKey string, opts ...api.ClientOption) (*api.ClientWithResponses, error) {
	opts = append([]api.ClientOption{api.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		if apiKey != "" {
			r.Header.Set("X-Api-Key", apiKey)
		}
		return nil
	})}, opts...)
	c, err := api.NewClient(base, opts...)
	if err != nil {
		return nil, err
	}
	c.Client = &Consistent{Doer: c.Client}
	return &api.ClientWithResponses{ClientInterface: c}, nil
}

// Consistent is a doer that keeps the newest consistency token its answers carried and sends it
// with every request after them. New puts one around the client's doer; a client that sends
// through a doer of its own can put one there. Safe for concurrent use: a request sent while
// another write is answered carries the newest token seen when it was sent.
type Consistent struct {
	Doer  api.HttpRequestDoer
	token replica.Furthest // the newest token seen
}

// Do sends r with the newest token, and keeps the one its answer carries when newer.
func (c *Consistent) Do(r *http.Request) (*http.Response, error) {
	if t := c.token.Load(); t != 0 {
		r.Header.Set(ConsistencyHeader, t.String())
	}
	res, err := c.Doer.Do(r)
	if err != nil {
		return res, err
	}
	if v := res.Header.Get(ConsistencyHeader); v != "" {
		if t, err := replica.ParseLSN(v); err == nil {
			c.token.See(t)
		}
	}
	return res, nil
}

// Token is the newest consistency token seen, zero before any.
func (c *Consistent) Token() replica.LSN { return c.token.Load() }

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/wazapin/wazapin/internal/identity"
)

// businessAPI speaks the contacts check of the WhatsApp Business API (On-Premises API, still
// served by BSPs): one POST answers whether each of up to maxPerCheck numbers is on WhatsApp.
type businessAPI struct {
	api   endpoint
	url   string
	limit int
}

// maxPerCheck is how many numbers one contacts check carries; the API refuses larger batches.
const maxPerCheck = 100

// errAccessDenied is the API's error code for a token it does not accept.
const errAccessDenied = 1005

func newBusinessAPI(credentials json.RawMessage, opts Options) (Provider, error) {
	c := readCredentials(credentials, "base_url", "access_token")
	baseURL := c.baseURL("base_url")
	// Access tokens are JWTs or Meta tokens, far longer than a gateway key.
	token := c.secret("access_token", 4096)
	if err := c.err(); err != nil {
		return nil, err
	}
	header := http.Header{"Authorization": {"Bearer " + token}, "Accept": {"application/json"}}
	return &businessAPI{
		api:   newEndpoint(opts, "whatsapp business api", header),
		url:   baseURL + "/v1/contacts",
		limit: opts.Concurrency,
	}, nil
}

func (b *businessAPI) Lookup(ctx context.Context, phones []string) ([]Result, error) {
	checks := (len(phones) + maxPerCheck - 1) / maxPerCheck
	limit, give, err := b.api.take(ctx, min(b.limit, checks))
	if err != nil {
		return nil, err
	}
	defer give()
	results := make([]Result, len(phones))
	err = forEach(ctx, checks, limit, func(ctx context.Context, i int) error {
		lo, hi := i*maxPerCheck, min((i+1)*maxPerCheck, len(phones))
		return b.check(ctx, phones[lo:hi], results[lo:hi])
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// check asks about phones and writes the answers to out, which has the same length.
func (b *businessAPI) check(ctx context.Context, phones []string, out []Result) error {
	const step = "contacts check"
	request := struct {
		Blocking   string   `json:"blocking"`
		Contacts   []string `json:"contacts"`
		ForceCheck bool     `json:"force_check"`
	}{"wait", phones, true}
	var answer struct {
		Contacts []struct {
			Input  string `json:"input"`
			Status string `json:"status"`
			WaID   string `json:"wa_id"`
		} `json:"contacts"`
		Errors []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	if err := b.api.call(ctx, step, http.MethodPost, b.url, request, &answer); err != nil {
		return err
	}
	if len(answer.Errors) > 0 {
		code := answer.Errors[0].Code
		sentinel := ErrUnavailable
		if code == errAccessDenied {
			sentinel = ErrUnauthorized
		}
		return b.api.fail(step, fmt.Sprintf("answered error code %d", code), sentinel)
	}

	// Answers are matched by digits: the API does not promise their order, and some servers echo
	// the input normalized (without "+").
	index := make(map[string]int, len(phones))
	for i, phone := range phones {
		index[digitsOf(phone)] = i
	}
	answered := make([]bool, len(phones))
	for _, c := range answer.Contacts {
		i, ok := index[digitsOf(c.Input)]
		if !ok || answered[i] { // extra entries change nothing: every number asked still needs one
			continue
		}
		switch c.Status {
		case "valid":
			waID, err := identity.NormalizeWaID(c.WaID)
			if err != nil || waID != c.WaID {
				return b.api.fail(step, "a valid contact has no usable wa_id", ErrBadResponse)
			}
			out[i] = Result{Phone: phones[i], Exists: true, WaID: waID}
		case "invalid":
			out[i] = Result{Phone: phones[i]}
		default:
			return b.api.fail(step, "a contact has an unknown status", ErrBadResponse)
		}
		answered[i] = true
	}
	for _, ok := range answered {
		if !ok {
			return b.api.fail(step, "a number asked about has no answer", ErrBadResponse)
		}
	}
	return nil
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r < '0' || r > '9' {
			return -1
		}
		return r
	}, s)
}

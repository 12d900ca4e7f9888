package server

import (
	"net/http"
	"net/netip"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ratelimit"
)

// The policies' names in RateLimit-Policy and RateLimit: an API key's bucket, and a client
// address's bucket of failed authentications.
const (
	keyPolicyName  = "default"
	authPolicyName = "failed-auth"
)

// The header fields, spelt as http.Header keeps them, so that they are set without being
// canonicalized on every request.
const (
	headerRateLimitPolicy = "Ratelimit-Policy"
	headerRateLimit       = "Ratelimit"
	headerRetryAfter      = "Retry-After"
)

// limitRate draws cost (the operation's x-rate-cost) from the bucket of the request's API key,
// and says what is left in RateLimit-Policy and RateLimit before the operation runs, so that
// every answer to the key carries them, errors included; over the limit it answers 429 with
// Retry-After, and the request takes nothing from the bucket. A key with a limit of its own is
// held to it; any other to the server's, when that is on. It runs after authenticate.
func (s *Server) limitRate(cost int) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			st := stateOf(c.Request().Context())
			limit, policy := s.cfg.RateLimit, s.keyPolicy // one slice shared by every answer: never written to
			if own := st.key.Limit; own != nil {
				limit = ratelimit.Limit{PerSecond: own.PerSecond, Burst: own.Burst}
				policy = []string{limit.Policy(keyPolicyName)}
			} else if !limit.On() {
				return next(c)
			}
			r := s.keyBuckets.Take(st.key.ID, limit, cost)
			h := c.Response().Header()
			h[headerRateLimitPolicy] = policy
			h[headerRateLimit] = []string{r.Header(keyPolicyName)}
			if !r.Allowed {
				detail := "this API key is over its rate limit of " + limit.Describe()
				if cost > 1 {
					detail += ", and this operation costs " + strconv.Itoa(cost) + " requests"
				}
				return tooMany(h, r, detail)
			}
			return next(c)
		}
	}
}

// refuseFailingAddress answers 429 to a client address over its limit of failed
// authentications, before its key is looked up: until it slows down, its answers say nothing of
// whether a key is good, so keys cannot be guessed at speed. A good key sent from that address
// is refused too.
func (s *Server) refuseFailingAddress(c echo.Context) error {
	limit := s.cfg.AuthFailureLimit
	if !limit.On() || s.addrBuckets.Len() == 0 { // no address has failed lately
		return nil
	}
	r := s.addrBuckets.Peek(clientAddr(c.Request()), limit)
	if r.Allowed {
		return nil
	}
	return tooManyFailures(c.Response().Header(), limit, r)
}

// authFailed counts a failed authentication against the client's address and answers err (a
// 401), or 429 once the address is over its limit.
func (s *Server) authFailed(c echo.Context, err error) error {
	limit := s.cfg.AuthFailureLimit
	if !limit.On() {
		return err
	}
	r := s.addrBuckets.Take(clientAddr(c.Request()), limit, 1)
	h := c.Response().Header()
	if !r.Allowed {
		h.Del("WWW-Authenticate")
		return tooManyFailures(h, limit, r)
	}
	h[headerRateLimitPolicy] = []string{limit.Policy(authPolicyName)}
	h[headerRateLimit] = []string{r.Header(authPolicyName)}
	return err
}

func tooManyFailures(h http.Header, limit ratelimit.Limit, r ratelimit.Result) error {
	h[headerRateLimitPolicy] = []string{limit.Policy(authPolicyName)}
	h[headerRateLimit] = []string{r.Header(authPolicyName)}
	return tooMany(h, r, "too many failed authentications from this address, over the limit of "+limit.Describe())
}

// tooMany sets Retry-After and returns the 429 whose detail begins with detail.
func tooMany(h http.Header, r ratelimit.Result, detail string) error {
	h[headerRetryAfter] = []string{strconv.FormatInt(r.RetryAfter, 10)}
	unit := " seconds"
	if r.RetryAfter == 1 {
		unit = " second"
	}
	return &apperr.Error{Code: apperr.RateLimited, Message: detail + "; retry after " + strconv.FormatInt(r.RetryAfter, 10) + unit}
}

// clientAddr is the address a request's failed authentications count against: its TCP peer's,
// never one a header such as X-Forwarded-For names, which any client can write. An IPv6
// address counts as its /64, since a single host commonly holds a whole /64.
func clientAddr(req *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

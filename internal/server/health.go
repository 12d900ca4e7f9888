package server

import (
	"context"

	"github.com/wazapin/wazapin/db"
	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
)

// GetHealth is the liveness check: 200 whenever this process answers at all. It asks nothing of
// the database: an orchestrator restarts a server whose liveness fails, and restarting every
// server during a database outage would only add to it. Readiness says whether to send traffic.
func (s *Server) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	var out api.GetHealth200JSONResponse
	out.Data.Status = api.Ok
	return out, nil
}

// GetReadiness says whether this server should get traffic: not once it is draining, not while
// the database cannot be reached, not while the schema is behind the binary's migrations.
func (s *Server) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	draining := s.draining.Load()
	if st := stateOf(ctx); st != nil {
		draining = st.draining // as the request's Connection header says
	}
	if draining {
		return nil, errDraining
	}
	v, err := s.store.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if want := db.LatestMigration(); v.Version < want || v.Dirty {
		state := ""
		if v.Dirty {
			state = ", left dirty by a failed migration"
		}
		return nil, apperr.New(apperr.Unavailable, "the database schema is at migration %d%s; this server needs %d", v.Version, state, want)
	}
	var out api.GetReadiness200JSONResponse
	out.Data.Status = api.Ok
	return out, nil
}

// errDraining is readiness's answer once shutdown has begun: expected, so not logged as a failure.
var errDraining = apperr.New(apperr.Unavailable, "the server is shutting down")

// Drain turns readiness to 503 and asks clients to close their connections after each answer, so
// that a load balancer stops sending here before the listener closes. Requests are still served.
func (s *Server) Drain() { s.draining.Store(true) }

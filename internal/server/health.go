package server

import (
	"context"

	"github.com/wazapin/wazapin/gen/api"
)

// GetHealth answers 200 when the database answers, 503 when it does not.
func (s *Server) GetHealth(ctx context.Context, _ api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	if _, err := s.q.Ping(ctx); err != nil {
		s.log.Warn("health check: database unreachable", "err", err)
		return api.GetHealth503ApplicationProblemPlusJSONResponse{
			Type: "about:blank", Title: "Service Unavailable", Status: 503, Detail: ptr("the database does not answer"),
		}, nil
	}
	var out api.GetHealth200JSONResponse
	out.Data.Status = api.Ok
	return out, nil
}

package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/wire"
)

// GetWorkspace returns the settings of the caller's workspace.
func (s *Server) GetWorkspace(ctx context.Context, _ api.GetWorkspaceRequestObject) (api.GetWorkspaceResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	row, err := s.store.Workspace(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	return api.GetWorkspace200JSONResponse{Data: workspaceOut(row)}, nil
}

// UpdateWorkspace changes the settings of the caller's workspace.
func (s *Server) UpdateWorkspace(ctx context.Context, req api.UpdateWorkspaceRequestObject) (api.UpdateWorkspaceResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	var row dbq.GetWorkspaceRow
	if b := req.Body; b.OptInRequired == nil {
		row, err = s.store.Workspace(ctx, ws.ID) // nothing to change
	} else {
		var channels []string
		if channels, err = optInChannels(*b.OptInRequired); err == nil {
			row, err = s.store.SetOptInChannels(ctx, ws.ID, channels)
		}
	}
	if err != nil {
		return nil, err
	}
	return api.UpdateWorkspace200JSONResponse{Data: workspaceOut(row)}, nil
}

// optInChannels checks and orders the channels of opt_in_required, each once.
func optInChannels(in []api.MessagingChannel) ([]string, error) {
	var errs apperr.Fields
	channels := []string{}
	for i, ch := range in {
		if !ch.Valid() {
			errs.Add(fmt.Sprintf("opt_in_required[%d]", i), "must be one of "+channelList)
		} else if !slices.Contains(channels, string(ch)) {
			channels = append(channels, string(ch))
		}
	}
	slices.Sort(channels)
	return channels, errs.Err()
}

func workspaceOut(r dbq.GetWorkspaceRow) api.Workspace {
	return api.Workspace{
		Id: ids.Format(ids.Workspace, r.ID), Name: r.Name, DefaultRegion: r.DefaultRegion, CreatedAt: r.CreatedAt.UTC(),
		OptInRequired: wire.Convert(r.OptInChannels, func(c string) api.MessagingChannel { return api.MessagingChannel(c) }),
	}
}

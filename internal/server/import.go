package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/importplan"
)

// Bounds of one import request.
const (
	importOperation = "importContacts"
	// importTimeout bounds an import's work once its body is read, instead of the database
	// timeout: 100,000 lines take seconds; the server's write timeout leaves time to answer.
	importTimeout   = 60 * time.Second
	maxImportLines  = 100_000
	maxImportLineSz = 1 << 20
)

// ImportContacts creates and upserts contacts from NDJSON lines in one transaction.
func (s *Server) ImportContacts(ctx context.Context, req api.ImportContactsRequestObject) (api.ImportContactsResponseObject, error) {
	ws, err := workspace(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := readLines(req.Body)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	nonBlank := len(raw)
	lines, rejected := parseLines(raw, ws.DefaultRegion) // raw is dead from here: the collector may take it
	plan, err := s.store.Import(ctx, ws.ID, lines, nonBlank, len(rejected))
	if err != nil {
		return nil, err
	}
	out := importBody{lines: nonBlank, rejected: append([]api.ImportRejection{}, rejected...), results: plan.Results}
	out.created, out.updated, out.conflict, out.invalid = plan.Tally()
	out.invalid += len(rejected)
	for _, r := range plan.Results {
		switch r.Outcome {
		case importplan.Conflict:
			out.rejected = append(out.rejected, *rejection(r.No, api.ImportRejectionReasonConflict, r.Err))
		case importplan.Invalid:
			out.rejected = append(out.rejected, *rejection(r.No, api.ImportRejectionReasonInvalid, r.Err))
		}
	}
	for i, n := range []int{out.created, out.updated, out.conflict, out.invalid} {
		s.metrics.ImportLines(importOutcomes[i], n)
	}
	slices.SortFunc(out.rejected, func(a, b api.ImportRejection) int { return a.Line - b.Line })
	return out, nil
}

// importOutcomes name what happened to import lines, in metrics, in the order of the counts.
var importOutcomes = []string{"created", "updated", "conflict", "invalid"}

type rawLine struct {
	no   int
	text []byte
}

// readLines splits the body into its non-blank lines.
func readLines(body io.Reader) ([]rawLine, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), maxImportLineSz)
	var lines []rawLine
	no := 0
	for sc.Scan() {
		no++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if len(lines) == maxImportLines {
			return nil, apperr.New(apperr.TooLarge, "an import takes at most %d lines; split the file", maxImportLines)
		}
		lines = append(lines, rawLine{no: no, text: slices.Clone(b)})
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return nil, apperr.BadParam("body", fmt.Sprintf("line %d is longer than %d bytes", no+1, maxImportLineSz))
	case err != nil:
		return nil, err // the body limit, or the client went away
	}
	return lines, nil
}

// parseLines validates every line as a POST /v1/contacts body, on every core: normalizing phone
// numbers is most of an import's CPU time.
func parseLines(raw []rawLine, region string) ([]importplan.Line, []api.ImportRejection) {
	type parsed struct {
		line importplan.Line
		rej  *api.ImportRejection
	}
	out := make([]parsed, len(raw))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(raw)/1000))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(raw); i += workers {
				l := raw[i]
				u, err := parseLine(l.text, region)
				if err != nil {
					out[i].rej = rejection(l.no, api.ImportRejectionReasonInvalid, err)
					continue
				}
				out[i].line = importplan.Line{No: l.no, Upsert: u}
			}
		})
	}
	wg.Wait()
	var lines []importplan.Line
	var rejected []api.ImportRejection
	for _, p := range out {
		if p.rej != nil {
			rejected = append(rejected, *p.rej)
		} else {
			lines = append(lines, p.line)
		}
	}
	return lines, rejected
}

func parseLine(text []byte, region string) (contact.Upsert, error) {
	var b api.ContactCreate
	if err := decodeJSON(text, &b, "line"); err != nil {
		return contact.Upsert{}, err
	}
	return parseCreate(b, region)
}

func rejection(line int, reason api.ImportRejectionReason, err error) *api.ImportRejection {
	r := &api.ImportRejection{Line: line, Reason: reason, Message: err.Error()}
	var e *apperr.Error
	if errors.As(err, &e) {
		if len(e.Fields) > 0 {
			r.Errors = ptr(fieldErrors(e.Fields))
		}
		if len(e.Candidates) > 0 {
			r.Candidates = &e.Candidates
		}
	}
	return r
}

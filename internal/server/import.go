package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/ids"
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
	plan, err := s.store.Import(ctx, ws.ID, lines)
	if err != nil {
		return nil, err
	}
	out := api.ImportResult{
		Lines: nonBlank, Invalid: len(rejected), Rejected: append([]api.ImportRejection{}, rejected...),
		Results: make([]api.ImportLineResult, 0, len(plan.Results)), MergedLines: []api.ImportMergedLine{},
	}
	for _, r := range plan.Results {
		switch r.Outcome {
		case importplan.Created, importplan.Updated:
			status, id := api.Created, ids.Format(ids.Contact, r.Contact)
			if r.Outcome == importplan.Created {
				out.Created++
			} else {
				status = api.Updated
				out.Updated++
			}
			out.Results = append(out.Results, api.ImportLineResult{Line: r.No, Status: status, ContactId: id})
			if len(r.Earlier) > 0 {
				out.MergedLines = append(out.MergedLines, api.ImportMergedLine{Line: r.No, ContactId: id, EarlierLines: r.Earlier})
			}
		case importplan.Conflict:
			out.Conflict++
			out.Rejected = append(out.Rejected, *rejection(r.No, api.ImportRejectionReasonConflict, r.Err))
		case importplan.Invalid:
			out.Invalid++
			out.Rejected = append(out.Rejected, *rejection(r.No, api.ImportRejectionReasonInvalid, r.Err))
		}
	}
	for i, n := range []int{out.Created, out.Updated, out.Conflict, out.Invalid} {
		s.metrics.ImportLines(importOutcomes[i], n)
	}
	slices.SortFunc(out.Rejected, func(a, b api.ImportRejection) int { return a.Line - b.Line })
	return api.ImportContacts200JSONResponse{Data: out}, nil
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
	if !utf8.Valid(text) {
		return contact.Upsert{}, errors.New("the line is not valid UTF-8")
	}
	if hasNULEscape(text) {
		return contact.Upsert{}, errors.New(`text must not contain the NUL character (\u0000)`)
	}
	var b api.ContactCreate
	if err := json.Unmarshal(text, &b); err != nil {
		return contact.Upsert{}, fmt.Errorf("malformed JSON: %v", err)
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

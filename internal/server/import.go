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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/importer"
	"github.com/wazapin/wazapin/internal/pg"
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
	groups := importer.GroupLines(lines)
	var out importOutcome
	err = pg.WithTx(ctx, s.planned, func(tx pgx.Tx) error {
		out = importOutcome{}
		return out.apply(ctx, s.qPlanned.WithTx(tx), ws.ID, groups)
	})
	if err != nil {
		return nil, err
	}
	for i, n := range []int{out.created, out.updated, out.conflict, len(rejected) + out.invalid} {
		s.metrics.ImportLines(importOutcomes[i], n)
	}
	all := append(append([]api.ImportRejection{}, rejected...), out.rejected...)
	slices.SortFunc(all, func(a, b api.ImportRejection) int { return a.Line - b.Line })
	return api.ImportContacts200JSONResponse{Data: api.ImportResult{
		Lines:    nonBlank,
		Created:  out.created,
		Updated:  out.updated,
		Conflict: out.conflict,
		Invalid:  len(rejected) + out.invalid,
		Rejected: all,
	}}, nil
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
func parseLines(raw []rawLine, region string) ([]importer.Line, []api.ImportRejection) {
	type parsed struct {
		line importer.Line
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
				out[i].line = importer.Line{No: l.no, Upsert: u}
			}
		})
	}
	wg.Wait()
	var lines []importer.Line
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

// importOutcome is what the database step of an import did.
type importOutcome struct {
	created, updated, conflict, invalid int
	rejected                            []api.ImportRejection // conflicts, and lines whose contact's custom fields would overflow
}

// reject records every line of a group as refused.
func (o *importOutcome) reject(g importer.Group, reason api.ImportRejectionReason, err error) {
	for _, no := range g.Lines {
		o.rejected = append(o.rejected, *rejection(no, reason, err))
	}
	if reason == api.ImportRejectionReasonConflict {
		o.conflict += len(g.Lines)
	} else {
		o.invalid += len(g.Lines)
	}
}

// apply writes the groups: stage their identifiers, find which stored contacts hold them, then
// create the contacts of groups that lead nowhere, update those that lead to one contact, and
// refuse those that lead to several; all with COPY and set-based statements.
func (o *importOutcome) apply(ctx context.Context, q *dbq.Queries, wsID uuid.UUID, groups []importer.Group) error {
	importID := ids.New()
	staged := newBatch(func(rows []dbq.StageImportKeysParams) (int64, error) { return q.StageImportKeys(ctx, rows) })
	for g, grp := range groups {
		for _, k := range grp.Keys {
			if err := staged.add(dbq.StageImportKeysParams{WorkspaceID: wsID, ImportID: importID, Grp: int32(g), Type: k.Type, Source: k.Source, Value: k.Value}); err != nil {
				return err
			}
		}
	}
	if err := staged.flush(); err != nil {
		return err
	}
	owned, err := q.ImportKeyOwners(ctx, dbq.ImportKeyOwnersParams{WorkspaceID: wsID, ImportID: importID})
	if err != nil {
		return err
	}
	owners := make([][]uuid.UUID, len(groups))
	for _, r := range owned {
		if !slices.Contains(owners[r.Grp], r.ContactID) {
			owners[r.Grp] = append(owners[r.Grp], r.ContactID)
		}
	}

	// Decide each group; groups that lead to the same stored contact update it together.
	var (
		creates  []int
		targetOf = make(map[uuid.UUID][]int)
		targets  []uuid.UUID
	)
	for g := range groups {
		switch len(owners[g]) {
		case 0:
			creates = append(creates, g)
		case 1:
			c := owners[g][0]
			if _, ok := targetOf[c]; !ok {
				targets = append(targets, c)
			}
			targetOf[c] = append(targetOf[c], g)
		default:
			o.reject(groups[g], api.ImportRejectionReasonConflict, apperr.Conflictf(contactIDs(sortedIDs(owners[g])),
				"the line's identifiers lead to %d different contacts", len(owners[g])))
		}
	}

	locked, err := q.LockContacts(ctx, dbq.LockContactsParams{WorkspaceID: wsID, Ids: targets})
	if err != nil {
		return err
	}
	if len(locked) != len(targets) {
		return pg.ErrRetry // a target was deleted since the look-up
	}
	// Identities cannot leave a locked contact; reading the owners again under the locks makes
	// the decisions above final (or starts over when they moved in between).
	again, err := q.ImportKeyOwners(ctx, dbq.ImportKeyOwnersParams{WorkspaceID: wsID, ImportID: importID})
	if err != nil {
		return err
	}
	if !slices.Equal(again, owned) {
		return pg.ErrRetry
	}

	var (
		// New contacts and their identities go straight in with COPY: nobody else can hold the
		// new ids, and an identity another session took since the look-up fails the COPY with a
		// unique violation, which retries the whole import.
		newRows = newBatch(func(rows []dbq.CopyContactsParams) (int64, error) { return q.CopyContacts(ctx, rows) })
		newIDs  = newBatch(func(rows []dbq.CopyIdentitiesParams) (int64, error) {
			if err := newRows.flush(); err != nil { // the contacts first: identities reference them
				return 0, err
			}
			return q.CopyIdentities(ctx, rows)
		})
		updates  []dbq.StageImportUpdatesParams
		removals = dbq.RemoveImportIdentitiesParams{WorkspaceID: wsID}
		attach   = dbq.AttachIdentitiesParams{WorkspaceID: wsID}
		toInsert int64 // identities AttachIdentities must insert
	)
	for _, g := range creates {
		u := groups[g].Upsert
		set, err := importer.MergeCustom(nil, u.Custom) // lines valid alone may overflow together
		if err != nil {
			o.reject(groups[g], api.ImportRejectionReasonInvalid, err)
			continue
		}
		id := ids.New()
		if err := newRows.add(dbq.CopyContactsParams{
			WorkspaceID: wsID, ID: id, Name: u.Name, NameKey: u.NameKey(), PhoneNumber: u.Phone, Email: u.Email,
			ExternalSource: u.ExternalSource, ExternalID: u.ExternalID, CustomFields: set,
		}); err != nil {
			return err
		}
		for _, k := range groups[g].Keys {
			if err := newIDs.add(dbq.CopyIdentitiesParams{WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value, ContactID: id}); err != nil {
				return err
			}
		}
		o.created++
		o.updated += len(groups[g].Lines) - 1
	}
	ownedBy := make(map[identity.Key]uuid.UUID, len(owned))
	for _, r := range owned {
		ownedBy[identity.Key{Type: r.Type, Source: r.Source, Value: r.Value}] = r.ContactID
	}
	for _, cur := range locked {
		gs := targetOf[cur.ID]
		us := make([]contact.Upsert, len(gs))
		for i, g := range gs {
			us[i] = groups[g].Upsert
		}
		u := importer.Fold(us...)
		merged, err := importer.MergeCustom(cur.CustomFields, u.Custom)
		if err != nil {
			for _, g := range gs {
				o.reject(groups[g], api.ImportRejectionReasonInvalid, err)
			}
			continue
		}
		next := u.Apply(fieldsOf(cur))
		remove, _ := contact.Moves(fieldsOf(cur), next)
		for _, k := range remove {
			removals.ContactIds = append(removals.ContactIds, cur.ID)
			removals.Types = append(removals.Types, k.Type)
			removals.Sources = append(removals.Sources, k.Source)
		}
		updates = append(updates, dbq.StageImportUpdatesParams{
			WorkspaceID: wsID, ImportID: importID, ContactID: cur.ID,
			Name: next.Name, NameKey: next.NameKey(), PhoneNumber: next.Phone, Email: next.Email,
			ExternalSource: next.ExternalSource, ExternalID: next.ExternalID, CustomFields: merged,
		})
		for _, g := range gs {
			for _, k := range groups[g].Keys {
				if _, held := ownedBy[k]; held && !removed(remove, k) {
					continue
				}
				attach.Types = append(attach.Types, k.Type)
				attach.Sources = append(attach.Sources, k.Source)
				attach.Vals = append(attach.Vals, k.Value)
				attach.ContactIds = append(attach.ContactIds, cur.ID)
				toInsert++
			}
			o.updated += len(groups[g].Lines)
		}
	}

	if err := newRows.flush(); err != nil {
		return err
	}
	if err := newIDs.flush(); err != nil {
		return err
	}
	if len(updates) > 0 {
		if _, err := q.StageImportUpdates(ctx, updates); err != nil {
			return err
		}
		if _, err := q.ApplyImportUpdates(ctx, dbq.ApplyImportUpdatesParams{WorkspaceID: wsID, ImportID: importID}); err != nil {
			return err
		}
		if len(removals.ContactIds) > 0 {
			if err := q.RemoveImportIdentities(ctx, removals); err != nil {
				return err
			}
		}
	}
	if toInsert > 0 {
		attached, err := q.AttachIdentities(ctx, attach)
		if err != nil {
			return err
		}
		if attached != toInsert {
			return pg.ErrRetry // another session took an identifier since the look-up
		}
	}
	return q.ClearImportStaging(ctx, dbq.ClearImportStagingParams{WorkspaceID: wsID, ImportID: importID})
}

// copyChunk is how many rows one COPY sends: enough to keep COPY's speed, few enough that an
// import never holds all its rows twice.
const copyChunk = 10_000

// batch collects rows and COPYs them a chunk at a time.
type batch[T any] struct {
	rows []T
	copy func([]T) (int64, error)
}

func newBatch[T any](copy func([]T) (int64, error)) *batch[T] {
	return &batch[T]{copy: copy}
}

func (b *batch[T]) add(row T) error {
	b.rows = append(b.rows, row)
	if len(b.rows) < copyChunk {
		return nil
	}
	return b.flush()
}

func (b *batch[T]) flush() error {
	if len(b.rows) == 0 {
		return nil
	}
	_, err := b.copy(b.rows)
	clear(b.rows)
	b.rows = b.rows[:0]
	return err
}

// removed tells whether an update's removals take k off its contact (to be attached again).
func removed(remove []identity.Key, k identity.Key) bool {
	return slices.ContainsFunc(remove, func(r identity.Key) bool {
		return r.Type == k.Type && (r.Source == "" || r.Source == k.Source)
	})
}

func sortedIDs(in []uuid.UUID) []uuid.UUID {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return out
}

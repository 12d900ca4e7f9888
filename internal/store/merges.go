package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/merge"
	"github.com/wazapin/wazapin/internal/pg"
	"github.com/wazapin/wazapin/internal/reach"
)

// Merged is a merge as answered: the survivor after it, and the merge.
type Merged struct {
	Contact dbq.Contact
	Merge   dbq.Merge
}

// errDryRun rolls a dry run's transaction back once its answer is made.
var errDryRun = errors.New("dry run")

// mergeRecord is what a merge keeps for its undo (merges.record).
type mergeRecord struct {
	Survivor  survivorRecord   `json:"survivor"`
	Merged    []mergedRecord   `json:"merged"`
	Redirects []redirectRecord `json:"redirects,omitempty"`
}

// survivorRecord is the survivor as the merge left it, and what the merge changed on it.
type survivorRecord struct {
	Fields       contact.Fields             `json:"fields"` // after the merge
	Filled       []string                   `json:"filled,omitempty"`
	FilledCustom map[string]json.RawMessage `json:"filled_custom,omitempty"`
	Tags         []uuid.UUID                `json:"tags,omitempty"` // its own, before the merge
	Consents     []consentRecord            `json:"consents,omitempty"`
}

// consentRecord is a consent kept against the survivor itself that the merge decided.
type consentRecord struct {
	Channel string        `json:"channel"`
	Before  *consentValue `json:"before,omitempty"` // nil: it had none
	After   consentValue  `json:"after"`
}

type consentValue struct {
	ContactID  uuid.UUID `json:"contact_id"`
	Status     string    `json:"status"`
	Source     *string   `json:"source,omitempty"`
	CapturedAt time.Time `json:"captured_at"`
}

// mergedRecord is a merged contact as it was, and what it brought.
type mergedRecord struct {
	ID             uuid.UUID       `json:"id"`
	Name           *string         `json:"name,omitempty"`
	PhoneNumber    *string         `json:"phone_number,omitempty"`
	Email          *string         `json:"email,omitempty"`
	ExternalSource *string         `json:"external_source,omitempty"`
	ExternalID     *string         `json:"external_id,omitempty"`
	CustomFields   json.RawMessage `json:"custom_fields"`
	MergedIDs      []uuid.UUID     `json:"merged_ids,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	Identities     []identity.Key  `json:"identities,omitempty"`
	Notes          []uuid.UUID     `json:"notes,omitempty"`
	Tags           []uuid.UUID     `json:"tags,omitempty"`
}

// redirectRecord is an id that led to a merged contact and now leads to the survivor.
type redirectRecord struct {
	ID      uuid.UUID `json:"id"`
	To      uuid.UUID `json:"to"` // the merged contact it led to
	MergeID uuid.UUID `json:"merge_id"`
}

// Merge merges others into survivor (see mergeContacts in openapi.yaml). A dry run answers the
// same and keeps nothing.
func (s *Store) Merge(ctx context.Context, wsID, survivor uuid.UUID, others []uuid.UUID, dryRun bool) (out Merged, err error) {
	err = s.write(ctx, s.planned, "contact.merge", wsID, func(q *txn) error {
		out, err = mergeContacts(ctx, q, wsID, survivor, others)
		if err == nil && dryRun {
			return errDryRun
		}
		return err
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return out, err
}

func mergeContacts(ctx context.Context, q *txn, wsID, survivorRef uuid.UUID, otherRefs []uuid.UUID) (Merged, error) {
	if slices.Contains(otherRefs, survivorRef) {
		return Merged{}, apperr.InvalidField("contact_ids", "must not include the contact merged into")
	}
	// Every id stands for the contact it leads to now.
	asked := map[uuid.UUID]uuid.UUID{} // the contact an id leads to → the id asked with
	sid, err := liveID(ctx, q.Queries, wsID, survivorRef)
	if err != nil {
		return Merged{}, err
	}
	asked[sid] = survivorRef
	var mergedIDs []uuid.UUID
	for _, ref := range otherRefs {
		id, err := liveID(ctx, q.Queries, wsID, ref)
		if err != nil {
			return Merged{}, err
		}
		if id == sid || slices.Contains(mergedIDs, id) {
			continue
		}
		asked[id] = ref
		mergedIDs = append(mergedIDs, id)
	}
	if len(mergedIDs) == 0 {
		// Every id leads to one contact already. Name one that was merged away: the other asked
		// for, or, when the contact asked to survive was itself merged into that other (the
		// losing one of two opposite merges of a pair), the contact asked to survive.
		gone := otherRefs[0]
		if gone == sid {
			gone = survivorRef
		}
		return Merged{}, apperr.New(apperr.Conflict, "contact %q is merged into contact %q already",
			ids.Format(ids.Contact, gone), ids.Format(ids.Contact, sid))
	}
	all := append([]uuid.UUID{sid}, mergedIDs...)
	rows, err := lockContacts(ctx, q, wsID, all, asked)
	if err != nil {
		return Merged{}, err
	}
	// An undo may have restored a contact between the look-up and the locks: its id then names
	// itself again, and the contact locked is not the one asked for.
	for live, ref := range asked {
		if now, err := liveID(ctx, q.Queries, wsID, ref); err != nil {
			return Merged{}, err
		} else if now != live {
			return Merged{}, pg.ErrRetry
		}
	}
	cur := rows[sid]
	sides := make([]merge.Side, len(mergedIDs))
	for i, id := range mergedIDs {
		sides[i] = merge.Side{ID: id, Fields: fieldsOf(rows[id]), Custom: rows[id].CustomFields}
	}
	fold, err := merge.Fold(merge.Side{ID: sid, Fields: fieldsOf(cur), Custom: cur.CustomFields}, sides)
	if err != nil {
		return Merged{}, err
	}
	mergeID := ids.New()
	rec := mergeRecord{Survivor: survivorRecord{Fields: fold.Fields, Filled: fold.Filled, FilledCustom: fold.FilledCustom}}
	tags, err := q.TagsOfContacts(ctx, dbq.TagsOfContactsParams{WorkspaceID: wsID, Ids: all})
	if err != nil {
		return Merged{}, err
	}
	if rec.Merged, err = gatherMerged(ctx, q, wsID, mergedIDs, rows, tags); err != nil {
		return Merged{}, err
	}
	var brought []uuid.UUID
	for _, t := range tags {
		switch {
		case t.ContactID == sid:
			rec.Survivor.Tags = append(rec.Survivor.Tags, t.TagID)
		case !slices.Contains(brought, t.TagID):
			brought = append(brought, t.TagID)
		}
	}
	brought = slices.DeleteFunc(brought, func(id uuid.UUID) bool { return slices.Contains(rec.Survivor.Tags, id) })
	redirects, err := q.RedirectsTo(ctx, dbq.RedirectsToParams{WorkspaceID: wsID, Ids: mergedIDs})
	if err != nil {
		return Merged{}, err
	}
	// Identities and notes move before the merged rows go: deleting a contact deletes its own.
	if err := q.MoveIdentities(ctx, dbq.MoveIdentitiesParams{WorkspaceID: wsID, ToID: sid, FromIds: mergedIDs}); err != nil {
		return Merged{}, err
	}
	if err := q.MoveNotes(ctx, dbq.MoveNotesParams{WorkspaceID: wsID, ToID: sid, FromIds: mergedIDs}); err != nil {
		return Merged{}, err
	}
	if len(brought) > 0 {
		if _, err := q.AddContactTags(ctx, dbq.AddContactTagsParams{WorkspaceID: wsID, ContactID: sid, TagIds: brought}); err != nil {
			return Merged{}, err
		}
	}
	if rec.Survivor.Consents, err = mergeConsents(ctx, q, wsID, sid, all); err != nil {
		return Merged{}, err
	}
	if err := mergeSuppressions(ctx, q, wsID, sid, all); err != nil {
		return Merged{}, err
	}
	if err := q.DeleteContacts(ctx, dbq.DeleteContactsParams{WorkspaceID: wsID, Ids: mergedIDs}); err != nil {
		return Merged{}, err
	}
	pointed := slices.Clone(mergedIDs)
	for _, r := range redirects {
		rec.Redirects = append(rec.Redirects, redirectRecord{ID: r.ID, To: r.ContactID, MergeID: r.MergeID})
		pointed = append(pointed, r.ID)
	}
	if err := q.PointRedirects(ctx, dbq.PointRedirectsParams{WorkspaceID: wsID, Ids: pointed, ContactID: sid, MergeID: mergeID}); err != nil {
		return Merged{}, err
	}
	survivorMerged := slices.Clone(cur.MergedIds)
	for _, id := range mergedIDs {
		survivorMerged = append(survivorMerged, id)
		survivorMerged = append(survivorMerged, rows[id].MergedIds...)
	}
	row, err := q.SetMergedContact(ctx, dbq.SetMergedContactParams{
		WorkspaceID: wsID, ID: sid, Name: fold.Fields.Name, NameKey: fold.Fields.NameKey(), PhoneNumber: fold.Fields.Phone,
		Email: fold.Fields.Email, ExternalSource: fold.Fields.ExternalSource, ExternalID: fold.Fields.ExternalID,
		CustomFields: fold.Custom, MergedIds: survivorMerged,
	})
	if err != nil {
		return Merged{}, err
	}
	record, err := json.Marshal(rec)
	if err != nil {
		return Merged{}, err
	}
	lost := fold.Lost
	if lost == nil {
		lost = []merge.Lost{}
	}
	lostJSON, err := json.Marshal(lost)
	if err != nil {
		return Merged{}, err
	}
	m, err := q.InsertMerge(ctx, dbq.InsertMergeParams{
		WorkspaceID: wsID, ID: mergeID, ContactID: sid, MergedIds: mergedIDs, ContactIds: all, Lost: lostJSON, Record: record,
	})
	if err != nil {
		return Merged{}, err
	}
	q.emit(events.Merge(events.ContactMerged, row, mergeID, mergedIDs, nil))
	return Merged{Contact: row, Merge: m}, nil
}

// liveID is the contact id leads to now: itself, or the contact it was merged into.
func liveID(ctx context.Context, q *dbq.Queries, wsID, id uuid.UUID) (uuid.UUID, error) {
	to, err := q.GetRedirect(ctx, dbq.GetRedirectParams{WorkspaceID: wsID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return id, nil
	}
	return to.ContactID, err
}

// lockContacts locks the contacts of a merge in id order. One missing was deleted, or merged
// since its id was followed (then the merge starts again from the look-up); asked maps each to
// the id the request named it by, for the 404.
func lockContacts(ctx context.Context, q *txn, wsID uuid.UUID, contacts []uuid.UUID, asked map[uuid.UUID]uuid.UUID) (map[uuid.UUID]dbq.Contact, error) {
	sorted := slices.SortedFunc(slices.Values(contacts), compareIDs)
	locked, err := q.LockContactsForMerge(ctx, dbq.LockContactsForMergeParams{WorkspaceID: wsID, Ids: sorted})
	if err != nil {
		return nil, err
	}
	rows := make(map[uuid.UUID]dbq.Contact, len(locked))
	for _, c := range locked {
		rows[c.ID] = c
	}
	for _, id := range contacts {
		if _, ok := rows[id]; ok {
			continue
		}
		if _, err := q.GetRedirect(ctx, dbq.GetRedirectParams{WorkspaceID: wsID, ID: id}); err == nil {
			return nil, pg.ErrRetry
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		ref := id
		if a, ok := asked[id]; ok {
			ref = a
		}
		return nil, contactNotFound(ref)
	}
	return rows, nil
}

// gatherMerged records each merged contact as it was, with the identities, notes and tags (of
// those the merge read) it brings.
func gatherMerged(ctx context.Context, q *txn, wsID uuid.UUID, mergedIDs []uuid.UUID, rows map[uuid.UUID]dbq.Contact, tags []dbq.TagsOfContactsRow) ([]mergedRecord, error) {
	idents, err := q.IdentitiesOfContacts(ctx, dbq.IdentitiesOfContactsParams{WorkspaceID: wsID, Ids: mergedIDs})
	if err != nil {
		return nil, err
	}
	notes, err := q.NotesOfContacts(ctx, dbq.NotesOfContactsParams{WorkspaceID: wsID, Ids: mergedIDs})
	if err != nil {
		return nil, err
	}
	out := make([]mergedRecord, len(mergedIDs))
	for i, id := range mergedIDs {
		c := rows[id]
		r := mergedRecord{
			ID: id, Name: c.Name, PhoneNumber: c.PhoneNumber, Email: c.Email, ExternalSource: c.ExternalSource,
			ExternalID: c.ExternalID, CustomFields: c.CustomFields, MergedIDs: c.MergedIds, CreatedAt: c.CreatedAt,
		}
		for _, k := range idents {
			if k.ContactID == id {
				r.Identities = append(r.Identities, identity.Key{Type: k.Type, Source: k.Source, Value: k.Value})
			}
		}
		for _, n := range notes {
			if n.ContactID == id {
				r.Notes = append(r.Notes, n.ID)
			}
		}
		for _, t := range tags {
			if t.ContactID == id {
				r.Tags = append(r.Tags, t.TagID)
			}
		}
		out[i] = r
	}
	return out, nil
}

// mergeConsents makes, on each channel, the most recent consent kept against any of the contacts
// themselves the survivor's, and records what it replaced. Consents kept against identifiers
// moved with them.
func mergeConsents(ctx context.Context, q *txn, wsID, sid uuid.UUID, all []uuid.UUID) ([]consentRecord, error) {
	rows, err := q.ContactSubjectConsents(ctx, dbq.ContactSubjectConsentsParams{WorkspaceID: wsID, Subjects: subjectsFor(all)})
	if err != nil {
		return nil, err
	}
	latest := map[string]dbq.Consent{}
	own := map[string]dbq.Consent{}
	var channels []string
	for _, r := range rows {
		if r.Subject == sid.String() {
			own[r.Channel] = r
		}
		l, ok := latest[r.Channel]
		if !ok {
			channels = append(channels, r.Channel)
		}
		if !ok || r.CapturedAt.After(l.CapturedAt) {
			latest[r.Channel] = r
		}
	}
	slices.Sort(channels)
	var out []consentRecord
	for _, ch := range channels {
		win := latest[ch]
		if win.Subject == sid.String() {
			continue
		}
		rec := consentRecord{Channel: ch, After: consentValue{ContactID: sid, Status: win.Status, Source: win.Source, CapturedAt: win.CapturedAt}}
		if o, ok := own[ch]; ok {
			rec.Before = &consentValue{ContactID: o.ContactID, Status: o.Status, Source: o.Source, CapturedAt: o.CapturedAt}
		}
		if err := putOwnConsent(ctx, q, wsID, sid, ch, rec.After); err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func putOwnConsent(ctx context.Context, q *txn, wsID, contactID uuid.UUID, channel string, v consentValue) error {
	return q.PutConsents(ctx, dbq.PutConsentsParams{
		WorkspaceID: wsID, Channel: channel, Types: []string{reach.Contact}, Vals: []string{contactID.String()},
		ContactID: v.ContactID, Status: v.Status, Source: v.Source, CapturedAt: v.CapturedAt,
	})
}

// mergeSuppressions gives the survivor, kept against itself, the longest lasting active
// suppression kept against any of the contacts themselves on each channel, unless its own lasts
// as long: merging never lifts one, nor brings its end closer. Those kept against identifiers
// moved with them.
func mergeSuppressions(ctx context.Context, q *txn, wsID, sid uuid.UUID, all []uuid.UUID) error {
	rows, err := q.ContactSubjectSuppressions(ctx, dbq.ContactSubjectSuppressionsParams{WorkspaceID: wsID, Subjects: subjectsFor(all)})
	if err != nil {
		return err
	}
	longest := map[string]dbq.Suppression{}
	var channels []string
	for _, r := range rows {
		l, ok := longest[r.Channel]
		if !ok {
			channels = append(channels, r.Channel)
		}
		// The survivor's own wins a tie, so that nothing is written for it.
		if !ok || outlasts(r.ExpiresAt, l.ExpiresAt) || (r.Subject == sid.String() && !outlasts(l.ExpiresAt, r.ExpiresAt)) {
			longest[r.Channel] = r
		}
	}
	slices.Sort(channels)
	for _, ch := range channels {
		r := longest[ch]
		if r.Subject == sid.String() {
			continue
		}
		if err := q.PutSuppressions(ctx, dbq.PutSuppressionsParams{
			WorkspaceID: wsID, Channel: ch, Types: []string{reach.Contact}, Vals: []string{sid.String()},
			ContactID: sid, Reason: r.Reason, ExpiresAt: r.ExpiresAt,
		}); err != nil {
			return err
		}
	}
	return nil
}

// outlasts tells whether a suppression ending at a lasts longer than one ending at b (nil: for
// good).
func outlasts(a, b *time.Time) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	}
	return a.After(*b)
}

func subjectsFor(contacts []uuid.UUID) []string {
	out := make([]string, len(contacts))
	for i, id := range contacts {
		out[i] = id.String()
	}
	return out
}

// MergeByID returns a merge.
func (s *Store) MergeByID(ctx context.Context, wsID, id uuid.UUID) (dbq.Merge, error) {
	m, err := s.q.GetMerge(ctx, dbq.GetMergeParams{WorkspaceID: wsID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return m, mergeNotFound(id)
	}
	return m, err
}

// ContactMerges lists the merges a contact, or a contact merged into it, took part in, newest
// first.
func (s *Store) ContactMerges(ctx context.Context, wsID, contactID uuid.UUID) ([]dbq.Merge, error) {
	c, err := s.Contact(ctx, wsID, contactID)
	if err != nil {
		return nil, err
	}
	return s.q.ContactMerges(ctx, dbq.ContactMergesParams{WorkspaceID: wsID, Ids: append([]uuid.UUID{c.ID}, c.MergedIds...)})
}

func mergeNotFound(id uuid.UUID) error {
	return apperr.NotFoundf("merge %q not found", ids.Format(ids.Merge, id))
}

// Undone is an undo as answered: the survivor after it, the contacts it restored, and the merge.
type Undone struct {
	Contact  dbq.Contact
	Restored []dbq.Contact
	Merge    dbq.Merge
}

// Undo undoes a merge (see undoMerge in openapi.yaml).
func (s *Store) Undo(ctx context.Context, wsID, mergeID uuid.UUID) (out Undone, err error) {
	err = s.write(ctx, s.planned, "contact.unmerge", wsID, func(q *txn) error {
		out, err = undoMerge(ctx, q, wsID, mergeID)
		return err
	})
	return out, err
}

func undoMerge(ctx context.Context, q *txn, wsID, mergeID uuid.UUID) (Undone, error) {
	m, err := q.GetMergeForUpdate(ctx, dbq.GetMergeForUpdateParams{WorkspaceID: wsID, ID: mergeID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Undone{}, mergeNotFound(mergeID)
	}
	if err != nil {
		return Undone{}, err
	}
	if m.UndoneAt != nil {
		return Undone{}, apperr.New(apperr.Conflict, "merge %q was undone already", ids.Format(ids.Merge, mergeID))
	}
	var rec mergeRecord
	if err := json.Unmarshal(m.Record, &rec); err != nil {
		return Undone{}, err
	}
	sid := m.ContactID
	locked, err := q.LockContactsForMerge(ctx, dbq.LockContactsForMergeParams{WorkspaceID: wsID, Ids: []uuid.UUID{sid}})
	if err != nil {
		return Undone{}, err
	}
	if len(locked) == 0 {
		r, err := q.GetRedirect(ctx, dbq.GetRedirectParams{WorkspaceID: wsID, ID: sid})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return Undone{}, apperr.New(apperr.Conflict, "the survivor %q was deleted: there is nothing to restore", ids.Format(ids.Contact, sid))
		case err != nil:
			return Undone{}, err
		}
		return Undone{}, apperr.New(apperr.Conflict, "the survivor was merged into contact %q since, by merge %q; undo that merge first",
			ids.Format(ids.Contact, r.ContactID), ids.Format(ids.Merge, r.MergeID))
	}
	cur := locked[0]
	// Every suppression active on the survivor now stays on both sides.
	active, err := activeSuppressions(ctx, q, wsID, sid)
	if err != nil {
		return Undone{}, err
	}
	tagged, err := q.TagsOfContacts(ctx, dbq.TagsOfContactsParams{WorkspaceID: wsID, Ids: []uuid.UUID{sid}})
	if err != nil {
		return Undone{}, err
	}
	onSurvivor := make([]uuid.UUID, len(tagged))
	for i, t := range tagged {
		onSurvivor[i] = t.TagID
	}
	// A tag leaves the survivor when only this merge brought it: not its own before the merge,
	// nor brought by another merge into it that stands.
	keep := slices.Clone(rec.Survivor.Tags)
	others, err := q.StandingMergesInto(ctx, dbq.StandingMergesIntoParams{WorkspaceID: wsID, ContactID: sid, ID: mergeID})
	if err != nil {
		return Undone{}, err
	}
	for _, raw := range others {
		var o mergeRecord
		if err := json.Unmarshal(raw, &o); err != nil {
			return Undone{}, err
		}
		for _, mr := range o.Merged {
			keep = append(keep, mr.Tags...)
		}
	}
	var (
		lost     []merge.NotRestored
		mergedID []uuid.UUID
		brought  []uuid.UUID
		restored = make([]dbq.Contact, 0, len(rec.Merged))
	)
	for _, mr := range rec.Merged {
		mergedID = append(mergedID, mr.ID)
		c, l, err := restoreMerged(ctx, q, wsID, sid, mr, onSurvivor)
		if err != nil {
			return Undone{}, err
		}
		restored = append(restored, c)
		lost = append(lost, l...)
		for _, t := range mr.Tags {
			if !slices.Contains(keep, t) && !slices.Contains(brought, t) {
				brought = append(brought, t)
			}
		}
	}
	if len(brought) > 0 {
		if err := q.RemoveContactTags(ctx, dbq.RemoveContactTagsParams{WorkspaceID: wsID, ContactID: sid, TagIds: brought}); err != nil {
			return Undone{}, err
		}
	}
	if err := undoConsents(ctx, q, wsID, sid, rec.Survivor.Consents); err != nil {
		return Undone{}, err
	}
	if err := q.DeleteRedirects(ctx, dbq.DeleteRedirectsParams{WorkspaceID: wsID, Ids: mergedID}); err != nil {
		return Undone{}, err
	}
	for _, r := range rec.Redirects {
		if err := q.RepointRedirect(ctx, dbq.RepointRedirectParams{WorkspaceID: wsID, ID: r.ID, ContactID: r.To, MergeID: r.MergeID, FromID: sid}); err != nil {
			return Undone{}, err
		}
	}
	gone := slices.Clone(mergedID)
	for _, mr := range rec.Merged {
		gone = append(gone, mr.MergedIDs...)
	}
	fields, custom, err := merge.Unfill(fieldsOf(cur), cur.CustomFields, rec.Survivor.Filled, rec.Survivor.Fields, rec.Survivor.FilledCustom)
	if err != nil {
		return Undone{}, err
	}
	if fields, _, err = keepHeld(ctx, q, wsID, sid, fields); err != nil {
		return Undone{}, err
	}
	row, err := q.SetMergedContact(ctx, dbq.SetMergedContactParams{
		WorkspaceID: wsID, ID: sid, Name: fields.Name, NameKey: fields.NameKey(), PhoneNumber: fields.Phone, Email: fields.Email,
		ExternalSource: fields.ExternalSource, ExternalID: fields.ExternalID, CustomFields: custom,
		MergedIds: slices.DeleteFunc(slices.Clone(cur.MergedIds), func(id uuid.UUID) bool { return slices.Contains(gone, id) }),
	})
	if err != nil {
		return Undone{}, err
	}
	for _, id := range append([]uuid.UUID{sid}, mergedID...) {
		if err := keepSuppressed(ctx, q, wsID, id, active); err != nil {
			return Undone{}, err
		}
	}
	if lost == nil {
		lost = []merge.NotRestored{}
	}
	report, err := json.Marshal(lost)
	if err != nil {
		return Undone{}, err
	}
	if m, err = q.FinishUndo(ctx, dbq.FinishUndoParams{WorkspaceID: wsID, ID: mergeID, NotRestored: report}); err != nil {
		return Undone{}, err
	}
	q.emit(events.Merge(events.ContactUnmerged, row, mergeID, mergedID, restored))
	return Undone{Contact: row, Restored: restored, Merge: m}, nil
}

// restoreMerged puts a merged contact back with its fields as they were, answers it, and moves back what it
// brought that the survivor still has; it answers what it could not restore.
func restoreMerged(ctx context.Context, q *txn, wsID, sid uuid.UUID, mr mergedRecord, onSurvivor []uuid.UUID) (row dbq.Contact, lost []merge.NotRestored, err error) {
	custom := mr.CustomFields
	if len(custom) == 0 {
		custom = json.RawMessage(`{}`)
	}
	f := contact.Fields{Name: mr.Name, Phone: mr.PhoneNumber, Email: mr.Email, ExternalSource: mr.ExternalSource, ExternalID: mr.ExternalID}
	row, err = q.RestoreContact(ctx, dbq.RestoreContactParams{
		WorkspaceID: wsID, ID: mr.ID, Name: f.Name, NameKey: f.NameKey(), PhoneNumber: f.Phone, Email: f.Email,
		ExternalSource: f.ExternalSource, ExternalID: f.ExternalID, CustomFields: custom,
		MergedIds: nonNil(mr.MergedIDs), CreatedAt: mr.CreatedAt,
	})
	if err != nil {
		return row, nil, err
	}
	if len(mr.Identities) > 0 {
		p := dbq.MoveIdentitiesBackParams{WorkspaceID: wsID, ToID: mr.ID, FromID: sid}
		p.Types, p.Sources, p.Vals = keyColumns(mr.Identities)
		back, err := q.MoveIdentitiesBack(ctx, p)
		if err != nil {
			return row, nil, err
		}
		for _, k := range mr.Identities {
			if slices.ContainsFunc(back, func(b dbq.MoveIdentitiesBackRow) bool {
				return b.Type == k.Type && b.Source == k.Source && b.Value == k.Value
			}) {
				continue
			}
			why := "no contact holds it any more"
			owner, err := q.GetIdentityOwner(ctx, dbq.GetIdentityOwnerParams{WorkspaceID: wsID, Type: k.Type, Source: k.Source, Value: k.Value})
			switch {
			case err == nil:
				why = "now held by contact " + ids.Format(ids.Contact, owner)
			case !errors.Is(err, pgx.ErrNoRows):
				return row, nil, err
			}
			lost = append(lost, merge.NotRestored{Contact: mr.ID, Kind: "identity", Value: keyText(k), Reason: why})
		}
	}
	kept, cleared, err := keepHeld(ctx, q, wsID, mr.ID, f)
	if err != nil {
		return row, nil, err
	}
	for _, name := range cleared {
		lost = append(lost, merge.NotRestored{Contact: mr.ID, Kind: "field", Value: name, Reason: "its identifier could not be restored, so the field is empty"})
	}
	if kept != f {
		if row, err = q.UpdateContact(ctx, dbq.UpdateContactParams{
			WorkspaceID: wsID, ID: mr.ID, Name: kept.Name, NameKey: kept.NameKey(), PhoneNumber: kept.Phone, Email: kept.Email,
			ExternalSource: kept.ExternalSource, ExternalID: kept.ExternalID, CustomFields: custom,
		}); err != nil {
			return row, nil, err
		}
	}
	if len(mr.Notes) > 0 {
		back, err := q.MoveNotesBack(ctx, dbq.MoveNotesBackParams{WorkspaceID: wsID, ToID: mr.ID, FromID: sid, Ids: mr.Notes})
		if err != nil {
			return row, nil, err
		}
		for _, n := range mr.Notes {
			if !slices.Contains(back, n) {
				lost = append(lost, merge.NotRestored{Contact: mr.ID, Kind: "note", Value: ids.Format(ids.Note, n), Reason: "the note was deleted"})
			}
		}
	}
	var still []uuid.UUID
	for _, t := range mr.Tags {
		if slices.Contains(onSurvivor, t) {
			still = append(still, t)
		} else {
			lost = append(lost, merge.NotRestored{Contact: mr.ID, Kind: "tag", Value: ids.Format(ids.Tag, t), Reason: "the survivor no longer has the tag"})
		}
	}
	if len(still) > 0 {
		if _, err := q.AddContactTags(ctx, dbq.AddContactTagsParams{WorkspaceID: wsID, ContactID: mr.ID, TagIds: still}); err != nil {
			return row, nil, err
		}
	}
	return row, lost, nil
}

// keepHeld makes each display field of a contact name an identifier it holds: one whose
// identifier it no longer holds shows another of that type it holds (the oldest), or is emptied,
// and cleared names those emptied.
func keepHeld(ctx context.Context, q *txn, wsID, id uuid.UUID, f contact.Fields) (contact.Fields, []string, error) {
	held, err := q.ListContactIdentities(ctx, dbq.ListContactIdentitiesParams{WorkspaceID: wsID, ContactID: id})
	if err != nil {
		return f, nil, err
	}
	has := func(k identity.Key) bool {
		return slices.ContainsFunc(held, func(h dbq.ListContactIdentitiesRow) bool {
			return h.Type == k.Type && h.Source == k.Source && h.Value == k.Value
		})
	}
	other := func(typ string) (dbq.ListContactIdentitiesRow, bool) {
		i := slices.IndexFunc(held, func(h dbq.ListContactIdentitiesRow) bool { return h.Type == typ })
		if i < 0 {
			return dbq.ListContactIdentitiesRow{}, false
		}
		return held[i], true
	}
	var cleared []string
	if f.Phone != nil && !has(identity.Key{Type: identity.Phone, Value: *f.Phone}) {
		f.Phone = nil
		if h, ok := other(identity.Phone); ok {
			f.Phone = &h.Value
		} else {
			cleared = append(cleared, merge.Phone)
		}
	}
	if f.Email != nil && !has(identity.Key{Type: identity.Email, Value: identity.Fold(*f.Email)}) {
		f.Email = nil
		if h, ok := other(identity.Email); ok {
			f.Email = &h.Value
		} else {
			cleared = append(cleared, merge.Email)
		}
	}
	if f.ExternalID != nil && f.ExternalSource != nil && !has(identity.Key{Type: identity.ExternalID, Source: *f.ExternalSource, Value: *f.ExternalID}) {
		f.ExternalSource, f.ExternalID = nil, nil
		if h, ok := other(identity.ExternalID); ok {
			f.ExternalSource, f.ExternalID = &h.Source, &h.Value
		} else {
			cleared = append(cleared, merge.External)
		}
	}
	return f, cleared, nil
}

// undoConsents puts back each consent kept against the survivor itself that the merge decided,
// unless it changed since.
func undoConsents(ctx context.Context, q *txn, wsID, sid uuid.UUID, decided []consentRecord) error {
	if len(decided) == 0 {
		return nil
	}
	rows, err := q.ContactSubjectConsents(ctx, dbq.ContactSubjectConsentsParams{WorkspaceID: wsID, Subjects: []string{sid.String()}})
	if err != nil {
		return err
	}
	for _, c := range decided {
		i := slices.IndexFunc(rows, func(r dbq.Consent) bool { return r.Channel == c.Channel })
		if i < 0 || rows[i].Status != c.After.Status || !rows[i].CapturedAt.Equal(c.After.CapturedAt) {
			continue // changed since the merge: it stays
		}
		if c.Before != nil {
			err = putOwnConsent(ctx, q, wsID, sid, c.Channel, *c.Before)
		} else {
			err = q.DeleteContactSubjectConsent(ctx, dbq.DeleteContactSubjectConsentParams{WorkspaceID: wsID, Subject: sid.String(), Channel: c.Channel})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// activeSuppressions is, per channel, the suppression active on a contact now.
func activeSuppressions(ctx context.Context, q *txn, wsID, id uuid.UUID) ([]reach.Entry, error) {
	rows, err := suppressionsOf(ctx, q.Queries, wsID, id)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return slices.DeleteFunc(reach.Effective(rows, now), func(e reach.Entry) bool { return !e.Active(now) }), nil
}

// keepSuppressed gives a contact, kept against itself, each of the suppressions given that is
// not active on it.
func keepSuppressed(ctx context.Context, q *txn, wsID, id uuid.UUID, want []reach.Entry) error {
	if len(want) == 0 {
		return nil
	}
	has, err := activeSuppressions(ctx, q, wsID, id)
	if err != nil {
		return err
	}
	for _, e := range want {
		if slices.ContainsFunc(has, func(h reach.Entry) bool { return h.Channel == e.Channel && !outlasts(e.ExpiresAt, h.ExpiresAt) }) {
			continue
		}
		if err := q.PutSuppressions(ctx, dbq.PutSuppressionsParams{
			WorkspaceID: wsID, Channel: e.Channel, Types: []string{reach.Contact}, Vals: []string{id.String()},
			ContactID: id, Reason: e.Reason, ExpiresAt: e.ExpiresAt,
		}); err != nil {
			return err
		}
	}
	return nil
}

func keyText(k identity.Key) string {
	if k.Source != "" {
		return k.Type + ":" + k.Source + ":" + k.Value
	}
	return k.Type + ":" + k.Value
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

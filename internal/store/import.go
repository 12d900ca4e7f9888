package store

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/events"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/importplan"
	"github.com/wazapin/wazapin/internal/pg"
)

// Import applies an import's valid lines in order, as one transaction: the contacts and
// identities it leaves are those POST /v1/contacts would leave for the same lines sent one after
// another (see importplan). The owners of the lines' identifiers are found and locked with a few
// set-based statements, the plan is worked out in memory, and its writes go back with COPY, its
// events too: one per contact created or changed, and import.completed with the counts of the
// request's nonBlank lines, of which rejected failed to parse.
func (s *Store) Import(ctx context.Context, wsID uuid.UUID, lines []importplan.Line, nonBlank, rejected int) (plan importplan.Plan, err error) {
	err = s.write(ctx, s.planned, "contact.import", wsID, func(q *txn) error {
		importID := ids.New()
		staged := newBatch(func(rows []dbq.StageImportKeysParams) (int64, error) { return q.StageImportKeys(ctx, rows) })
		for _, l := range lines {
			// An identifier on several lines is staged once per line; the look-up reads it
			// once per stored owner all the same.
			for _, k := range l.Upsert.Keys() {
				if err := staged.add(dbq.StageImportKeysParams{WorkspaceID: wsID, ImportID: importID, Type: k.Type, Source: k.Source, Value: k.Value}); err != nil {
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
		owners := make(map[identity.Key]uuid.UUID, len(owned))
		var targets []uuid.UUID
		for _, r := range owned {
			owners[identity.Key{Type: r.Type, Source: r.Source, Value: r.Value}] = r.ContactID
			targets = append(targets, r.ContactID)
		}
		slices.SortFunc(targets, compareIDs)
		targets = slices.Compact(targets)
		locked, err := q.LockContacts(ctx, dbq.LockContactsParams{WorkspaceID: wsID, Ids: targets})
		if err != nil {
			return err
		}
		if len(locked) != len(targets) {
			return pg.ErrRetry // deleted since the look-up
		}
		// Identities cannot leave a locked contact, nor join one; reading the owners again under
		// the locks makes the look-up final, or starts over when they moved in between.
		again, err := q.ImportKeyOwners(ctx, dbq.ImportKeyOwnersParams{WorkspaceID: wsID, ImportID: importID})
		if err != nil {
			return err
		}
		if !slices.Equal(again, owned) {
			return pg.ErrRetry
		}
		stored := make(map[uuid.UUID]importplan.Stored, len(locked))
		for _, c := range locked {
			stored[c.ID] = importplan.Stored{ID: c.ID, Fields: fieldsOf(c), Custom: c.CustomFields}
		}
		plan = importplan.Build(lines, owners, stored, ids.New)
		if err := writePlan(ctx, q.Queries, wsID, importID, plan, locked); err != nil {
			return err
		}
		if len(lines) == 0 {
			// Nothing was written, and the transaction must hold its id before its event takes a
			// number (see feedBound).
			if _, err := q.NewTransactionID(ctx); err != nil {
				return err
			}
		}
		created, updated, conflict, invalid := plan.Tally()
		q.emit(events.Import(events.ImportCounts{
			ID: importID, Lines: nonBlank, Created: created, Updated: updated, Conflict: conflict, Invalid: invalid + rejected,
		}))
		return q.ClearImportStaging(ctx, dbq.ClearImportStagingParams{WorkspaceID: wsID, ImportID: importID})
	})
	return plan, err
}

// writePlan writes an import's outcome: new contacts by COPY, updated ones through a staged
// table, removed identities in one statement, every new identity by COPY, and then the events of
// the contacts created and changed (locked holds the stored ones as they were) by COPY too. An
// identity another session took since the look-up fails the COPY with a unique violation, which
// retries the import.
func writePlan(ctx context.Context, q *dbq.Queries, wsID, importID uuid.UUID, plan importplan.Plan, locked []dbq.Contact) error {
	now, err := q.TransactionTime(ctx)
	if err != nil {
		return err
	}
	contacts := newBatch(func(rows []dbq.CopyContactsParams) (int64, error) { return q.CopyContacts(ctx, rows) })
	var (
		updated  []dbq.Contact
		updates  []dbq.StageImportUpdatesParams
		removals = dbq.RemoveImportIdentitiesParams{WorkspaceID: wsID}
	)
	for _, c := range plan.Contacts {
		f := c.Fields
		if c.New {
			if err := contacts.add(dbq.CopyContactsParams{
				WorkspaceID: wsID, ID: c.ID, Name: f.Name, NameKey: f.NameKey(), PhoneNumber: f.Phone, Email: f.Email,
				ExternalSource: f.ExternalSource, ExternalID: f.ExternalID, CustomFields: c.Custom,
			}); err != nil {
				return err
			}
			continue
		}
		updates = append(updates, dbq.StageImportUpdatesParams{
			WorkspaceID: wsID, ImportID: importID, ContactID: c.ID,
			Name: f.Name, NameKey: f.NameKey(), PhoneNumber: f.Phone, Email: f.Email,
			ExternalSource: f.ExternalSource, ExternalID: f.ExternalID, CustomFields: c.Custom,
		})
		for _, k := range c.Remove {
			removals.ContactIds = append(removals.ContactIds, c.ID)
			removals.Types = append(removals.Types, k.Type)
			removals.Sources = append(removals.Sources, k.Source)
			removals.Vals = append(removals.Vals, k.Value)
		}
	}
	if err := contacts.flush(); err != nil {
		return err
	}
	if len(updates) > 0 {
		if _, err := q.StageImportUpdates(ctx, updates); err != nil {
			return err
		}
		if updated, err = q.ApplyImportUpdates(ctx, dbq.ApplyImportUpdatesParams{WorkspaceID: wsID, ImportID: importID}); err != nil {
			return err
		}
	}
	if len(removals.ContactIds) > 0 {
		if err := q.RemoveImportIdentities(ctx, removals); err != nil {
			return err
		}
	}
	identities := newBatch(func(rows []dbq.CopyIdentitiesParams) (int64, error) { return q.CopyIdentities(ctx, rows) })
	if err := plan.Attach(func(a importplan.Identity) error {
		return identities.add(dbq.CopyIdentitiesParams{WorkspaceID: wsID, Type: a.Key.Type, Source: a.Key.Source, Value: a.Key.Value, ContactID: a.Contact})
	}); err != nil {
		return err
	}
	if err := identities.flush(); err != nil {
		return err
	}
	return writeImportEvents(ctx, q, wsID, now, plan, locked, updated)
}

// writeImportEvents COPYs contact.created for each new contact of plan and contact.updated for
// each stored one whose fields changed (locked as they were, updated as they are), in the plan's
// order, and queues their webhook deliveries. Each event's JSON is made as its row is sent, so
// they are never all in memory.
func writeImportEvents(ctx context.Context, q *dbq.Queries, wsID uuid.UUID, now time.Time, plan importplan.Plan, locked, updated []dbq.Contact) error {
	before := make(map[uuid.UUID]int, len(locked))
	for i, c := range locked {
		before[c.ID] = i
	}
	after := make(map[uuid.UUID]int, len(updated))
	for i, c := range updated {
		after[c.ID] = i
	}
	floor, err := q.EventSeqIssued(ctx)
	if err != nil {
		return err
	}
	// The events of a chunk are written into one buffer, reused from chunk to chunk: an import
	// runs near the server's memory limit, where every object allocated makes the collector work.
	var (
		rows = make([]dbq.CopyEventsParams, 0, eventChunk)
		buf  = make([]byte, 0, eventChunk*640)
	)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		_, err := q.CopyEvents(ctx, rows)
		clear(rows)
		rows, buf = rows[:0], buf[:0]
		return err
	}
	for _, c := range plan.Contacts {
		start, typ := len(buf), events.ContactCreated
		if c.New {
			f := c.Fields
			buf = events.AppendContactData(buf, dbq.Contact{
				WorkspaceID: wsID, ID: c.ID, Name: f.Name, PhoneNumber: f.Phone, Email: f.Email,
				ExternalSource: f.ExternalSource, ExternalID: f.ExternalID, CustomFields: c.Custom, CreatedAt: now, UpdatedAt: now,
			})
		} else {
			i, ok := after[c.ID]
			if !ok {
				continue
			}
			e, changed := events.ContactChange(locked[before[c.ID]], updated[i])
			if !changed {
				continue
			}
			buf, typ = append(buf, e.Data...), e.Type
		}
		rows = append(rows, dbq.CopyEventsParams{
			WorkspaceID: wsID, ID: ids.New(), Type: typ, ObjectID: ids.Format(ids.Contact, c.ID), ContactID: &c.ID,
			Data: buf[start:len(buf):len(buf)],
		})
		if len(rows) == eventChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// The events COPYed are queued for delivery as InsertEvents queues the others, when the
	// workspace has an endpoint to deliver to.
	if wants, err := q.WantsEvents(ctx, wsID); err != nil || !wants {
		return err
	}
	return q.QueueTransactionEvents(ctx, dbq.QueueTransactionEventsParams{WorkspaceID: wsID, Floor: floor})
}

// eventChunk is how many events one COPY of an import's events sends.
const eventChunk = 2000

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

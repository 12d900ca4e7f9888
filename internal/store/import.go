package store

import (
	"context"
	"slices"

	"github.com/google/uuid"

	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/importplan"
	"github.com/wazapin/wazapin/internal/pg"
)

// Import applies an import's valid lines in order, as one transaction: the contacts and
// identities it leaves are those POST /v1/contacts would leave for the same lines sent one after
// another (see importplan). The owners of the lines' identifiers are found and locked with a few
// set-based statements, the plan is worked out in memory, and its writes go back with COPY.
func (s *Store) Import(ctx context.Context, wsID uuid.UUID, lines []importplan.Line) (plan importplan.Plan, err error) {
	err = s.write(ctx, s.planned, "contact.import", func(q *dbq.Queries) error {
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
		if err := writePlan(ctx, q, wsID, importID, plan); err != nil {
			return err
		}
		return q.ClearImportStaging(ctx, dbq.ClearImportStagingParams{WorkspaceID: wsID, ImportID: importID})
	})
	return plan, err
}

// writePlan writes an import's outcome: new contacts by COPY, updated ones through a staged
// table, removed identities in one statement, and then every new identity by COPY. An identity
// another session took since the look-up fails the COPY with a unique violation, which retries
// the import.
func writePlan(ctx context.Context, q *dbq.Queries, wsID, importID uuid.UUID, plan importplan.Plan) error {
	contacts := newBatch(func(rows []dbq.CopyContactsParams) (int64, error) { return q.CopyContacts(ctx, rows) })
	var (
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
		}
	}
	if err := contacts.flush(); err != nil {
		return err
	}
	if len(updates) > 0 {
		if _, err := q.StageImportUpdates(ctx, updates); err != nil {
			return err
		}
		if _, err := q.ApplyImportUpdates(ctx, dbq.ApplyImportUpdatesParams{WorkspaceID: wsID, ImportID: importID}); err != nil {
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
	return identities.flush()
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

// Package events describes the changes the store records with each write: what changed, the
// object as the API shows it after the change, and for updates the previous values of the fields
// that changed. The store writes them in the change's own transaction; the feed and the webhook
// deliveries read them back.
package events

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/reach"
	"github.com/wazapin/wazapin/internal/wire"
)

// The event types, as openapi.yaml's EventType lists them.
const (
	ContactCreated    = "contact.created"
	ContactUpdated    = "contact.updated"
	ContactDeleted    = "contact.deleted"
	IdentityAttached  = "identity.attached"
	IdentityDetached  = "identity.detached"
	NoteCreated       = "note.created"
	TagAdded          = "tag.added"
	TagRemoved        = "tag.removed"
	ConsentChanged    = "consent.changed"
	SuppressionAdded  = "suppression.added"
	SuppressionLifted = "suppression.lifted"
	ChannelCreated    = "channel.created"
	ChannelUpdated    = "channel.updated"
	ChannelDeleted    = "channel.deleted"
	ImportCompleted   = "import.completed"
	ContactMerged     = "contact.merged"
	ContactUnmerged   = "contact.unmerged"
)

// Types lists every event type.
var Types = []string{
	ContactCreated, ContactUpdated, ContactDeleted, IdentityAttached, IdentityDetached, NoteCreated,
	TagAdded, TagRemoved, ConsentChanged, SuppressionAdded, SuppressionLifted,
	ChannelCreated, ChannelUpdated, ChannelDeleted, ImportCompleted, ContactMerged, ContactUnmerged,
}

// Event is one change, ready to be written with it.
type Event struct {
	Type string
	// ObjectID is the id of the object the event is about as the API writes it; identities,
	// consents and suppressions have none of their own and name their contact's.
	ObjectID string
	// ContactID is the contact the change belongs to, when it belongs to one.
	ContactID *uuid.UUID
	// Data is {"object": …} with, for updates, "previous_attributes": {field: value before}.
	Data []byte
}

// Contact is a contact.created or contact.deleted event: the contact as created, or as it was
// when it was deleted.
func Contact(typ string, c dbq.Contact) Event {
	return Event{Type: typ, ObjectID: ids.Format(ids.Contact, c.ID), ContactID: &c.ID, Data: AppendContactData(make([]byte, 0, 512), c)}
}

// AppendContactData appends the data of a contact.created or contact.deleted event.
func AppendContactData(b []byte, c dbq.Contact) []byte {
	b = append(b, `{"object":`...)
	b = wire.AppendContact(b, c)
	return append(b, '}')
}

// Merge is a contact.merged event, or a contact.unmerged one with the contacts the undo restored:
// the survivor after the change, the merge's id and the ids it merged.
func Merge(typ string, survivor dbq.Contact, mergeID uuid.UUID, merged []uuid.UUID, restored []dbq.Contact) Event {
	b := make([]byte, 0, 600*(1+len(restored)))
	b = append(b, `{"object":`...)
	b = wire.AppendContact(b, survivor)
	b = append(b, `,"merge_id":`...)
	b = wire.AppendID(b, ids.Merge, mergeID)
	b = append(b, `,"merged_ids":[`...)
	for i, id := range merged {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendID(b, ids.Contact, id)
	}
	b = append(b, ']')
	if typ == ContactUnmerged {
		b = append(b, `,"restored":[`...)
		for i, c := range restored {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendContact(b, c)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	return Event{Type: typ, ObjectID: ids.Format(ids.Contact, survivor.ID), ContactID: &survivor.ID, Data: b}
}

// ContactChange is the contact.updated event of a change from before to after; ok is false when
// no field the API shows changed (updated_at aside), and then there is nothing to record.
func ContactChange(before, after dbq.Contact) (e Event, ok bool) {
	prev := appendContactChanges(nil, before, after)
	if len(prev) == 0 {
		return e, false
	}
	b := make([]byte, 0, 600+len(prev))
	b = append(b, `{"object":`...)
	b = wire.AppendContact(b, after)
	b = append(b, `,"previous_attributes":{`...)
	b = append(b, prev...)
	b = append(b, "}}"...)
	return Event{Type: ContactUpdated, ObjectID: ids.Format(ids.Contact, after.ID), ContactID: &after.ID, Data: b}, true
}

// appendContactChanges appends `"field":previous` for each field that differs, in the order the
// contact's JSON has them.
func appendContactChanges(b []byte, before, after dbq.Contact) []byte {
	field := func(name string) {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	if !bytes.Equal(compact(before.CustomFields), compact(after.CustomFields)) {
		field("custom_fields")
		b = wire.AppendCompact(b, before.CustomFields)
	}
	for _, f := range []struct {
		name          string
		before, after *string
	}{
		{"email", before.Email, after.Email},
		{"external_id", before.ExternalID, after.ExternalID},
		{"external_source", before.ExternalSource, after.ExternalSource},
		{"name", before.Name, after.Name},
		{"phone_number", before.PhoneNumber, after.PhoneNumber},
	} {
		if !sameString(f.before, f.after) {
			field(f.name)
			b = wire.AppendNullString(b, f.before)
		}
	}
	return b
}

func sameString(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func compact(raw []byte) []byte {
	return wire.AppendCompact(nil, raw)
}

// Identity is an identity.attached or identity.detached event.
func Identity(typ string, contactID uuid.UUID, i api.Identity) Event {
	return object(typ, ids.Format(ids.Contact, contactID), &contactID, i)
}

// Note is a note.created event.
func Note(n dbq.Note) Event {
	return object(NoteCreated, ids.Format(ids.Note, n.ID), &n.ContactID, wire.Note(n))
}

// Tag is a tag.added or tag.removed event.
func Tag(typ string, contactID uuid.UUID, t dbq.ListContactTagsRow) Event {
	return object(typ, ids.Format(ids.Tag, t.ID), &contactID, wire.Tag(t))
}

// Consent is a consent.changed event: the consent on record for the channel after the change.
func Consent(contactID uuid.UUID, c reach.Consent) Event {
	return object(ConsentChanged, ids.Format(ids.Contact, contactID), &contactID, wire.Consent(c))
}

// Suppression is a suppression.added or suppression.lifted event.
func Suppression(typ string, contactID uuid.UUID, e reach.Entry) Event {
	return object(typ, ids.Format(ids.Contact, contactID), &contactID, wire.Suppression(e))
}

// Channel is a channel.created, channel.updated or channel.deleted event.
func Channel(typ string, c dbq.GetChannelRow) Event {
	return object(typ, ids.Format(ids.Channel, c.ID), nil, wire.Channel(c))
}

// ImportCounts are what an import did, line by line.
type ImportCounts struct {
	ID                                         uuid.UUID
	Lines, Created, Updated, Conflict, Invalid int
}

// Import is the import.completed event.
func Import(c ImportCounts) Event {
	id := ids.Format(ids.Import, c.ID)
	return object(ImportCompleted, id, nil, api.ImportSummary{
		Id: id, Lines: c.Lines, Created: c.Created, Updated: c.Updated, Conflict: c.Conflict, Invalid: c.Invalid,
	})
}

// Change is the event of an object that changed from before (nil when it did not exist) to
// after, with previous_attributes for the fields whose JSON differs; ok is false when none does
// (updated_at aside), and then there is nothing to record.
func Change(typ, objectID string, contactID *uuid.UUID, before, after any) (e Event, ok bool) {
	if before == nil {
		return object(typ, objectID, contactID, after), true
	}
	was, now := fields(before), fields(after)
	var names []string
	for k, v := range now {
		if k != "updated_at" && !bytes.Equal(was[k], v) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return e, false
	}
	slices.Sort(names)
	prev := make(map[string]json.RawMessage, len(names))
	for _, k := range names {
		prev[k] = was[k]
		if prev[k] == nil {
			prev[k] = json.RawMessage("null")
		}
	}
	return encode(typ, objectID, contactID, struct {
		Object   any                        `json:"object"`
		Previous map[string]json.RawMessage `json:"previous_attributes"`
	}{after, prev}), true
}

// fields is v's JSON object, member by member.
func fields(v any) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		panic("events: encode " + err.Error())
	}
	return m
}

func object(typ, objectID string, contactID *uuid.UUID, v any) Event {
	return encode(typ, objectID, contactID, struct {
		Object any `json:"object"`
	}{v})
}

func encode(typ, objectID string, contactID *uuid.UUID, data any) Event {
	b, err := json.Marshal(data)
	if err != nil {
		// The wire types are plain data: encoding them cannot fail.
		panic("events: encode " + typ + ": " + err.Error())
	}
	return Event{Type: typ, ObjectID: objectID, ContactID: contactID, Data: b}
}

// AppendJSON appends a stored event as the API and the webhooks write it (api.Event).
func AppendJSON(b []byte, e dbq.Event) []byte {
	b = append(b, `{"contact_id":`...)
	if e.ContactID != nil {
		b = wire.AppendID(b, ids.Contact, *e.ContactID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"created_at":`...)
	b = wire.AppendTime(b, e.CreatedAt)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	b = append(b, `,"id":`...)
	b = wire.AppendID(b, ids.Event, e.ID)
	b = append(b, `,"object_id":`...)
	b = wire.AppendString(b, e.ObjectID)
	b = append(b, `,"sequence":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"type":`...)
	b = wire.AppendString(b, e.Type)
	b = append(b, `,"workspace_id":`...)
	b = wire.AppendID(b, ids.Workspace, e.WorkspaceID)
	return append(b, '}')
}

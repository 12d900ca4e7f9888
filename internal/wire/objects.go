// Package wire turns stored rows into the API's objects, for the answers and for the events that
// carry the same JSON.
package wire

import (
	"encoding/json"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/merge"
	"github.com/wazapin/wazapin/internal/reach"
)

func Note(n dbq.Note) api.Note {
	return api.Note{
		Id:        ids.Format(ids.Note, n.ID),
		ContactId: ids.Format(ids.Contact, n.ContactID),
		Body:      n.Body,
		CreatedAt: n.CreatedAt.UTC(),
	}
}

func Tag(r dbq.ListContactTagsRow) api.Tag {
	return api.Tag{Id: ids.Format(ids.Tag, r.ID), Name: r.Name, AssignedAt: r.AssignedAt.UTC()}
}

func Consent(r reach.Consent) api.Consent {
	return api.Consent{
		Channel: api.MessagingChannel(r.Channel), Status: api.ConsentStatus(r.Status), Source: NullString(r.Source),
		CapturedAt: r.CapturedAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func Suppression(e reach.Entry) api.Suppression {
	out := api.Suppression{
		Channel: api.MessagingChannel(e.Channel), Reason: api.SuppressionReason(e.Reason), Active: e.Active(time.Now()),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(), LiftReason: NullString(e.LiftReason),
		Identifiers: Convert(e.Identifiers, Subject),
	}
	out.ExpiresAt, out.LiftedAt = NullTime(e.ExpiresAt), NullTime(e.LiftedAt)
	return out
}

func Subject(s reach.Subject) api.SubjectIdentifier {
	return api.SubjectIdentifier{Type: api.SubjectIdentifierType(s.Type), Value: s.Value}
}

func Channel(r dbq.GetChannelRow) api.Channel {
	return api.Channel{
		Id: ids.Format(ids.Channel, r.ID), Name: r.Name, Platform: api.Platform(r.Platform),
		Status: api.ChannelStatus(r.Status), CreatedAt: r.CreatedAt.UTC(),
		StatusCheckedAt: NullTime(r.StatusCheckedAt),
	}
}

func Identity(r dbq.ListContactIdentitiesRow) api.Identity {
	out := api.Identity{Type: api.IdentityType(r.Type), Value: r.Value, CreatedAt: r.CreatedAt.UTC()}
	if r.Source != "" {
		out.Source = ptr(r.Source)
	}
	return out
}

// Convert maps rows to their wire form.
func Convert[R, T any](rows []R, out func(R) T) []T {
	res := make([]T, len(rows))
	for i, r := range rows {
		res[i] = out(r)
	}
	return res
}

// NullString is s as a nullable wire value.
func NullString(s *string) nullable.Nullable[string] {
	if s == nil {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(*s)
}

// NullTime is t as a nullable wire value, in UTC.
func NullTime(t *time.Time) nullable.Nullable[time.Time] {
	if t == nil {
		return nullable.NewNullNullable[time.Time]()
	}
	return nullable.NewNullableWithValue(t.UTC())
}

func ptr[T any](v T) *T { return &v }

// Contact is a contact as the API shows it; AppendContact writes the same JSON faster.
func Contact(c dbq.Contact) api.Contact {
	merged := make([]string, len(c.MergedIds))
	for i, id := range c.MergedIds {
		merged[i] = ids.Format(ids.Contact, id)
	}
	return api.Contact{
		Id: ids.Format(ids.Contact, c.ID), Name: NullString(c.Name), PhoneNumber: NullString(c.PhoneNumber), Email: NullString(c.Email),
		ExternalSource: NullString(c.ExternalSource), ExternalId: NullString(c.ExternalID), CustomFields: c.CustomFields,
		MergedIds: merged, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

// Merge is a merge as the API shows it; lost and not_restored are kept as the API's JSON.
func Merge(m dbq.Merge) (api.Merge, error) {
	out := api.Merge{
		Id: ids.Format(ids.Merge, m.ID), ContactId: ids.Format(ids.Contact, m.ContactID), MergedIds: make([]string, len(m.MergedIds)),
		CreatedAt: m.CreatedAt.UTC(), Lost: []api.LostValue{},
	}
	for i, id := range m.MergedIds {
		out.MergedIds[i] = ids.Format(ids.Contact, id)
	}
	var lost []merge.Lost
	if err := json.Unmarshal(m.Lost, &lost); err != nil {
		return out, err
	}
	for _, l := range lost {
		out.Lost = append(out.Lost, api.LostValue{Field: l.Field, ContactId: ids.Format(ids.Contact, l.Contact), Value: l.Value})
	}
	out.UndoneAt = NullTime(m.UndoneAt)
	if m.NotRestored == nil {
		out.NotRestored.SetNull()
		return out, nil
	}
	var missed []merge.NotRestored
	if err := json.Unmarshal(m.NotRestored, &missed); err != nil {
		return out, err
	}
	list := make([]api.NotRestored, len(missed))
	for i, n := range missed {
		list[i] = api.NotRestored{ContactId: ids.Format(ids.Contact, n.Contact), Kind: api.NotRestoredKind(n.Kind), Value: n.Value, Reason: n.Reason}
	}
	out.NotRestored.Set(list)
	return out, nil
}

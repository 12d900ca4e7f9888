// Package merge holds the rules of folding contacts into one, without a database: which display
// fields and custom fields the survivor shows afterwards, which values lost, and what an undo
// gives back to the survivor. The store locks the contacts, moves their rows and keeps what an
// undo needs.
package merge

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/contact"
)

// Side is a contact taking part in a merge, as locked.
type Side struct {
	ID     uuid.UUID
	Fields contact.Fields
	Custom json.RawMessage
}

// Lost is a value of a merged contact that the survivor does not show afterwards.
type Lost struct {
	Field   string          `json:"field"` // name, phone_number, email, external_id, custom_fields.<key>
	Contact uuid.UUID       `json:"contact_id"`
	Value   json.RawMessage `json:"value"`
}

// NotRestored is something an undo could not give back to a restored contact, and why.
type NotRestored struct {
	Contact uuid.UUID `json:"contact_id"`
	Kind    string    `json:"kind"` // identity, note, tag, field
	Value   string    `json:"value"`
	Reason  string    `json:"reason"`
}

// Outcome is the survivor's display after a merge.
type Outcome struct {
	Fields contact.Fields
	Custom json.RawMessage
	Lost   []Lost
	// Filled names the display fields the survivor lacked and a merged contact filled, and
	// FilledCustom the custom field keys: what an undo empties again if nobody changed it since.
	Filled       []string
	FilledCustom map[string]json.RawMessage
}

// The display fields, as Lost and Filled name them.
const (
	Name     = "name"
	Phone    = "phone_number"
	Email    = "email"
	External = "external_id"
)

// Fold works out the survivor's display fields and custom fields: the survivor's win, the others
// fill what it lacks in the order given, and every value of another that differs from the result
// lost. An error is the custom fields breaking their limits (an *apperr.Error naming them).
func Fold(survivor Side, others []Side) (Outcome, error) {
	out := Outcome{Fields: survivor.Fields, FilledCustom: map[string]json.RawMessage{}}
	for _, o := range others {
		f := &out.Fields
		if f.Name == nil && o.Fields.Name != nil {
			f.Name = o.Fields.Name
			out.Filled = append(out.Filled, Name)
		}
		if f.Phone == nil && o.Fields.Phone != nil {
			f.Phone = o.Fields.Phone
			out.Filled = append(out.Filled, Phone)
		}
		if f.Email == nil && o.Fields.Email != nil {
			f.Email = o.Fields.Email
			out.Filled = append(out.Filled, Email)
		}
		if f.ExternalID == nil && o.Fields.ExternalID != nil {
			f.ExternalSource, f.ExternalID = o.Fields.ExternalSource, o.Fields.ExternalID
			out.Filled = append(out.Filled, External)
		}
	}
	custom := objectOf(survivor.Custom)
	for _, o := range others {
		theirs := objectOf(o.Custom)
		for _, k := range sortedKeys(theirs) {
			if _, ok := custom[k]; !ok {
				custom[k] = theirs[k]
				out.FilledCustom[k] = theirs[k]
			}
		}
	}
	for _, o := range others {
		for _, d := range []struct {
			field       string
			mine, final *string
		}{
			{Name, o.Fields.Name, out.Fields.Name},
			{Phone, o.Fields.Phone, out.Fields.Phone},
			{Email, o.Fields.Email, out.Fields.Email},
		} {
			if d.mine != nil && (d.final == nil || *d.mine != *d.final) {
				out.Lost = append(out.Lost, Lost{Field: d.field, Contact: o.ID, Value: str(*d.mine)})
			}
		}
		if o.Fields.ExternalID != nil && (!same(o.Fields.ExternalID, out.Fields.ExternalID) || !same(o.Fields.ExternalSource, out.Fields.ExternalSource)) {
			out.Lost = append(out.Lost, Lost{Field: External, Contact: o.ID, Value: str(deref(o.Fields.ExternalSource) + ":" + *o.Fields.ExternalID)})
		}
		theirs := objectOf(o.Custom)
		for _, k := range sortedKeys(theirs) {
			if !sameJSON(theirs[k], custom[k]) {
				out.Lost = append(out.Lost, Lost{Field: "custom_fields." + k, Contact: o.ID, Value: theirs[k]})
			}
		}
	}
	if len(out.FilledCustom) == 0 {
		out.Custom = survivor.Custom
		if len(out.Custom) == 0 {
			out.Custom = json.RawMessage(`{}`)
		}
		return out, nil
	}
	merged, err := json.Marshal(custom)
	if err != nil {
		return out, err
	}
	out.Custom = merged
	return out, contact.CheckStored(merged)
}

// Unfill is the survivor's display after an undo: each field the merge filled (filled) that
// still shows the value it filled (was) is emptied; the rest stays as it is now.
func Unfill(now contact.Fields, nowCustom json.RawMessage, filled []string, was contact.Fields, filledCustom map[string]json.RawMessage) (contact.Fields, json.RawMessage, error) {
	f := now
	for _, name := range filled {
		switch name {
		case Name:
			if same(f.Name, was.Name) {
				f.Name = nil
			}
		case Phone:
			if same(f.Phone, was.Phone) {
				f.Phone = nil
			}
		case Email:
			if same(f.Email, was.Email) {
				f.Email = nil
			}
		case External:
			if same(f.ExternalID, was.ExternalID) && same(f.ExternalSource, was.ExternalSource) {
				f.ExternalSource, f.ExternalID = nil, nil
			}
		}
	}
	if len(filledCustom) == 0 {
		return f, nowCustom, nil
	}
	custom := objectOf(nowCustom)
	changed := false
	for k, v := range filledCustom {
		if cur, ok := custom[k]; ok && sameJSON(cur, v) {
			delete(custom, k)
			changed = true
		}
	}
	if !changed {
		return f, nowCustom, nil
	}
	out, err := json.Marshal(custom)
	return f, out, err
}

func objectOf(raw json.RawMessage) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m) // stored custom fields are always an object
	}
	return m
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func same(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func str(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// Package contact holds the rules of a contact's own fields: validating and normalizing what a
// client sends, applying an upsert or a merge patch to the stored fields, and working out which
// identities move when the phone, email or external id change. No HTTP, no SQL.
package contact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
)

// Limits on contact fields. The custom-field limits hold for the stored, merged object too.
const (
	MaxNameLen         = 200
	MaxCustomFields    = 100
	MaxCustomFieldName = 64
	MaxCustomBytes     = 64 << 10
)

// Fields are a contact's identifying and descriptive columns, normalized. nil means unset.
type Fields struct {
	Name           *string
	Phone          *string // E.164
	Email          *string // as written, trimmed
	ExternalSource *string // lower-cased
	ExternalID     *string
}

// CustomFields is a change to the custom_fields object: Reset empties it first, then each member
// of Object is set, except the null ones, which are removed (Delete names them). Object stays the
// JSON as sent, so numbers keep every digit and an import holds each line's change in a few bytes.
type CustomFields struct {
	Reset  bool
	Object json.RawMessage // nil when the change sets and removes nothing
	Delete []string        // the null members of Object, sorted
}

// Upsert is a validated POST /v1/contacts body: nil fields were not given.
type Upsert struct {
	Fields
	Custom CustomFields
}

// UpsertInput is the body as the client sent it.
type UpsertInput struct {
	Name, Phone, Email, ExternalSource, ExternalID *string
	CustomFields                                   json.RawMessage // nil when absent
}

// ParseUpsert validates and normalizes an upsert, naming every invalid field.
func ParseUpsert(in UpsertInput, region string) (Upsert, error) {
	var errs apperr.Fields
	var u Upsert
	if in.Name != nil {
		u.Name = parseName(*in.Name, &errs)
	}
	if in.Phone != nil {
		u.Phone = parsePhone(*in.Phone, region, &errs)
	}
	if in.Email != nil {
		u.Email = parseEmail(*in.Email, &errs)
	}
	u.ExternalSource, u.ExternalID = parseExternal(in.ExternalSource, in.ExternalID, &errs)
	if in.CustomFields != nil {
		u.Custom = parseCustomFields(in.CustomFields, &errs)
	}
	if len(errs) == 0 && u.Phone == nil && u.Email == nil && u.ExternalID == nil {
		errs.Add("phone_number", "is required unless email or external_source with external_id is given: a contact needs at least one identifier")
	}
	return u, errs.Err()
}

// Keys are the identities the upsert's identifiers stand for.
func (u Upsert) Keys() []identity.Key {
	return u.Fields.keys()
}

// Apply returns the fields of a stored contact after the upsert: fields given overwrite.
func (u Upsert) Apply(cur Fields) Fields {
	next := cur
	if u.Name != nil {
		next.Name = u.Name
	}
	if u.Phone != nil {
		next.Phone = u.Phone
	}
	if u.Email != nil {
		next.Email = u.Email
	}
	if u.ExternalID != nil {
		next.ExternalSource, next.ExternalID = u.ExternalSource, u.ExternalID
	}
	return next
}

// Opt is one field of a merge patch: absent (Set false), null (Set, Value nil) or a value.
type Opt struct {
	Set   bool
	Value *string
}

// PatchInput is a PATCH body as the client sent it.
type PatchInput struct {
	Name, Phone, Email, ExternalSource, ExternalID Opt
	CustomFieldsSet                                bool
	CustomFields                                   json.RawMessage // nil with CustomFieldsSet: clear them
}

// Patch is a validated merge patch.
type Patch struct {
	name, phone, email, external Opt
	source                       *string
	Custom                       CustomFields
}

// ParsePatch validates and normalizes a merge patch, naming every invalid field.
func ParsePatch(in PatchInput, region string) (Patch, error) {
	var errs apperr.Fields
	p := Patch{name: Opt{Set: in.Name.Set}, phone: Opt{Set: in.Phone.Set}, email: Opt{Set: in.Email.Set}}
	if in.Name.Value != nil {
		p.name.Value = parseName(*in.Name.Value, &errs)
	}
	if in.Phone.Value != nil {
		p.phone.Value = parsePhone(*in.Phone.Value, region, &errs)
	}
	if in.Email.Value != nil {
		p.email.Value = parseEmail(*in.Email.Value, &errs)
	}
	if in.ExternalSource.Set != in.ExternalID.Set || (in.ExternalSource.Value == nil) != (in.ExternalID.Value == nil) {
		field := "external_id"
		if !in.ExternalSource.Set || in.ExternalSource.Value == nil {
			field = "external_source"
		}
		errs.Add(field, "must be given together with external_id and external_source, both values or both null")
	} else if in.ExternalID.Set {
		p.external.Set = true
		p.source, p.external.Value = parseExternal(in.ExternalSource.Value, in.ExternalID.Value, &errs)
	}
	if in.CustomFieldsSet {
		if in.CustomFields == nil {
			p.Custom.Reset = true
		} else {
			p.Custom = parseCustomFields(in.CustomFields, &errs)
		}
	}
	return p, errs.Err()
}

// Apply returns the fields after the patch, refusing to leave the contact without an identifier.
func (p Patch) Apply(cur Fields) (Fields, error) {
	next := cur
	if p.name.Set {
		next.Name = p.name.Value
	}
	if p.phone.Set {
		next.Phone = p.phone.Value
	}
	if p.email.Set {
		next.Email = p.email.Value
	}
	if p.external.Set {
		next.ExternalSource, next.ExternalID = p.source, p.external.Value
	}
	if next.Phone == nil && next.Email == nil && next.ExternalID == nil {
		field := "phone_number"
		switch {
		case p.email.Set:
			field = "email"
		case p.external.Set:
			field = "external_id"
		}
		return next, apperr.InvalidField(field, "cannot be cleared: a contact keeps at least one of phone_number, email, external_id")
	}
	return next, nil
}

// Removal is an identity a change detaches from a contact. Key names it: with a Value, that one
// identity; with none, every identity of Key's type and, when Key.Source is set, of that source.
// Unless, when not empty, is a value of Key's type and source: the removal does nothing when the
// contact holds that identity already.
//
// Why: after a merge a contact may hold several identifiers of one type while its field shows one
// of them. A write naming one it holds only changes which one it shows and detaches nothing; a
// write naming a new one replaces the one shown, and that one only. For a contact that never
// merged (one phone, one email, one external id per source) this is the same as detaching every
// identity of the field's type (of the new id's source, for external ids).
type Removal struct {
	Key    identity.Key
	Unless string
}

// Kept is the identity whose presence cancels the removal; ok is false when none does.
func (r Removal) Kept() (k identity.Key, ok bool) {
	return identity.Key{Type: r.Key.Type, Source: r.Key.Source, Value: r.Unless}, r.Unless != ""
}

// Moves lists the identity changes that take a contact from old to next: the identities to
// remove, before any is attached, and the ones to attach (the contact may hold them already).
//   - phone and email: a new value detaches the one old shows, unless the contact holds the new
//     value already; clearing detaches the one old shows.
//   - external id: one per source. A new id of the source old shows detaches the id old shows; an
//     id of another source detaches the contact's ids of that source; either way nothing is
//     detached when the contact holds the new id already. Ids of other sources stay. Clearing
//     detaches every external id.
func Moves(old, next Fields) (remove []Removal, add []identity.Key) {
	if !eq(old.Phone, next.Phone) {
		if old.Phone != nil {
			remove = append(remove, Removal{Key: identity.Key{Type: identity.Phone, Value: *old.Phone}, Unless: deref(next.Phone)})
		}
		if next.Phone != nil {
			add = append(add, identity.Key{Type: identity.Phone, Value: *next.Phone})
		}
	}
	if oldEmail, nextEmail := lower(old.Email), lower(next.Email); !eq(oldEmail, nextEmail) {
		if oldEmail != nil {
			remove = append(remove, Removal{Key: identity.Key{Type: identity.Email, Value: *oldEmail}, Unless: deref(nextEmail)})
		}
		if nextEmail != nil {
			add = append(add, identity.Key{Type: identity.Email, Value: *nextEmail})
		}
	}
	if !eq(old.ExternalSource, next.ExternalSource) || !eq(old.ExternalID, next.ExternalID) {
		switch {
		case next.ExternalID != nil:
			gone := identity.Key{Type: identity.ExternalID, Source: *next.ExternalSource}
			if eq(old.ExternalSource, next.ExternalSource) {
				gone.Value = *old.ExternalID
			}
			remove = append(remove, Removal{Key: gone, Unless: *next.ExternalID})
			add = append(add, identity.Key{Type: identity.ExternalID, Source: *next.ExternalSource, Value: *next.ExternalID})
		case old.ExternalID != nil:
			remove = append(remove, Removal{Key: identity.Key{Type: identity.ExternalID}})
		}
	}
	return remove, add
}

func (f Fields) keys() []identity.Key {
	// Sized exactly: an import keeps the keys of each of up to 100,000 contacts at once.
	n := 0
	for _, p := range []*string{f.Phone, f.Email, f.ExternalID} {
		if p != nil {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	keys := make([]identity.Key, 0, n)
	if f.Phone != nil {
		keys = append(keys, identity.Key{Type: identity.Phone, Value: *f.Phone})
	}
	if f.Email != nil {
		keys = append(keys, identity.Key{Type: identity.Email, Value: identity.Fold(*f.Email)})
	}
	if f.ExternalID != nil {
		keys = append(keys, identity.Key{Type: identity.ExternalID, Source: *f.ExternalSource, Value: *f.ExternalID})
	}
	return keys
}

func parseName(raw string, errs *apperr.Fields) *string {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return nil
	case utf8.RuneCountInString(s) > MaxNameLen:
		errs.Add("name", "must be at most 200 characters")
		return nil
	}
	return &s
}

func parsePhone(raw, region string, errs *apperr.Fields) *string {
	e164, err := identity.NormalizePhone(raw, region)
	if err != nil {
		errs.Add("phone_number", err.Error())
		return nil
	}
	return &e164
}

func parseEmail(raw string, errs *apperr.Fields) *string {
	display, _, err := identity.NormalizeEmail(raw)
	if err != nil {
		errs.Add("email", err.Error())
		return nil
	}
	return &display
}

// parseExternal validates an external id and its source, which only make sense together.
func parseExternal(rawSource, rawID *string, errs *apperr.Fields) (source, id *string) {
	if rawSource == nil && rawID == nil {
		return nil, nil
	}
	if rawSource == nil {
		errs.Add("external_source", "is required with external_id")
		return nil, nil
	}
	if rawID == nil {
		errs.Add("external_id", "is required with external_source")
		return nil, nil
	}
	s, err := identity.NormalizeSource(*rawSource)
	if err != nil {
		errs.Add("external_source", err.Error())
	}
	v, err2 := identity.NormalizeExternalID(*rawID)
	if err2 != nil {
		errs.Add("external_id", err2.Error())
	}
	if err != nil || err2 != nil {
		return nil, nil
	}
	return &s, &v
}

// parseCustomFields checks a custom_fields object and names its null members, the keys to delete.
// Numbers must be storable (storableNumber) and values at most MaxCustomDepth deep.
func parseCustomFields(raw json.RawMessage, errs *apperr.Fields) CustomFields {
	var c CustomFields
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil || in == nil {
		errs.Add("custom_fields", "must be a JSON object")
		return c
	}
	if len(in) > MaxCustomFields {
		errs.Add("custom_fields", fmt.Sprintf("must have at most %d keys", MaxCustomFields))
		return c
	}
	tooLarge := fmt.Sprintf("must be at most %d KiB of JSON as stored (numbers written in full)", MaxCustomBytes>>10)
	if len(raw) > 4*MaxCustomBytes { // however it is spelt, it cannot fit
		errs.Add("custom_fields", tooLarge)
		return c
	}
	before := len(*errs)
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := in[k]
		switch {
		case k == "" || utf8.RuneCountInString(k) > MaxCustomFieldName:
			errs.Add("custom_fields."+k, fmt.Sprintf("key must be 1 to %d characters", MaxCustomFieldName))
		case string(v) == "null":
			c.Delete = append(c.Delete, k)
		case tooDeep(v):
			errs.Add("custom_fields."+k, tooDeepMessage)
		case !numbersInRange(v):
			errs.Add("custom_fields."+k, "holds a number out of range: numbers must fit a 64-bit float without rounding to zero, in at most 1000 characters")
		}
	}
	if len(*errs) == before {
		if size, _ := StoredSize(raw); size > MaxCustomBytes {
			errs.Add("custom_fields", tooLarge)
		}
	}
	if len(in) > 0 {
		c.Object = raw
	}
	return c
}

// OwnersConflict is the error for identifiers that lead to several contacts.
func OwnersConflict(owners []uuid.UUID) error {
	sorted := slices.SortedFunc(slices.Values(owners), func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	refs := make([]string, len(sorted))
	for i, id := range sorted {
		refs[i] = ids.Format(ids.Contact, id)
	}
	return apperr.Conflictf(refs, "the identifiers belong to %d different contacts; nothing was changed", len(owners))
}

// MergeCustom is what a stored custom_fields object becomes after a change (the one rule upsert,
// patch and import share), refused when the result breaks the limits.
func MergeCustom(stored json.RawMessage, change CustomFields) (json.RawMessage, error) {
	empty := len(stored) == 0 || string(stored) == "{}" || change.Reset
	switch {
	case change.Object == nil && empty:
		return json.RawMessage(`{}`), nil
	case change.Object == nil:
		return stored, nil
	case empty && len(change.Delete) == 0:
		// Nothing to merge with and nothing to remove: the object as sent, checked when parsed
		// (jsonb drops its spaces).
		return change.Object, nil
	}
	fields := map[string]json.RawMessage{}
	if !empty {
		if err := json.Unmarshal(stored, &fields); err != nil {
			return nil, err
		}
	}
	var set map[string]json.RawMessage
	if err := json.Unmarshal(change.Object, &set); err != nil {
		return nil, err
	}
	for k, v := range set {
		if string(v) == "null" {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	merged, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return merged, CheckStored(merged)
}

// CheckStored checks the limits on a contact's merged custom_fields, measured as stored (see
// StoredSize).
func CheckStored(fields json.RawMessage) error {
	if size, _ := StoredSize(fields); size > MaxCustomBytes {
		return apperr.InvalidField("custom_fields", fmt.Sprintf("would grow past %d KiB of JSON on this contact", MaxCustomBytes>>10))
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(fields, &keys); err == nil && len(keys) > MaxCustomFields {
		return apperr.InvalidField("custom_fields", fmt.Sprintf("would grow past %d keys on this contact", MaxCustomFields))
	}
	return nil
}

func numbersInRange(v json.RawMessage) bool {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return err == io.EOF
		}
		if n, ok := tok.(json.Number); ok {
			if !storableNumber(string(n)) {
				return false
			}
		}
	}
}

func eq(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func lower(s *string) *string {
	if s == nil {
		return nil
	}
	l := identity.Fold(*s)
	return &l
}

// NameKey is the case-folded name that searches match.
func (f Fields) NameKey() *string {
	return lower(f.Name)
}

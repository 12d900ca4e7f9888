// Package resolve turns the identifiers of a resolve request into the keys to look up, and decides
// from the matches which contact, if any, they lead to.
package resolve

import (
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/identity"
	"github.com/wazapin/wazapin/internal/ids"
)

// MaxIdentifiers bounds one request.
const MaxIdentifiers = 20

// Identifier types a client may send.
const (
	TypeContactID  = "contact_id"
	TypePhone      = "phone"
	TypeWhatsApp   = "whatsapp"
	TypeWaID       = "wa_id"
	TypeEmail      = "email"
	TypeExternalID = "external_id"
)

// Identifier is one identifier as the client sent it.
type Identifier struct {
	Type   string
	Value  string
	Source *string
}

// Lookup is what to ask the store: identity keys and contact ids, each tagged with the index
// (Ord) of the identifier it came from.
type Lookup struct {
	KeyOrds    []int32
	Keys       []identity.Key
	IDOrds     []int32
	ContactIDs []uuid.UUID
}

// Parse validates the identifiers of a resolve and returns the lookup for them, naming every
// invalid one.
func Parse(in []Identifier, region string) (Lookup, error) {
	return ParseUpTo(in, region, MaxIdentifiers)
}

// ParseUpTo is Parse for a request that takes up to most identifiers.
func ParseUpTo(in []Identifier, region string, most int) (Lookup, error) {
	var errs apperr.Fields
	var l Lookup
	if len(in) == 0 {
		errs.Add("identifiers", "must list at least one identifier")
	}
	if len(in) > most {
		errs.Add("identifiers", fmt.Sprintf("must list at most %d identifiers", most))
		return l, errs.Err()
	}
	for i, it := range in {
		field := fmt.Sprintf("identifiers[%d]", i)
		ord := int32(i)
		addKey := func(k identity.Key) {
			l.KeyOrds = append(l.KeyOrds, ord)
			l.Keys = append(l.Keys, k)
		}
		if it.Source != nil && it.Type != TypeExternalID {
			errs.Add(field+".source", "is only allowed with type external_id")
			continue
		}
		switch it.Type {
		case TypeContactID:
			id, ok := ids.Parse(ids.Contact, it.Value)
			if !ok {
				errs.Add(field+".value", "is not a contact id")
				continue
			}
			l.IDOrds = append(l.IDOrds, ord)
			l.ContactIDs = append(l.ContactIDs, id)
		case TypePhone, TypeWhatsApp:
			e164, err := identity.NormalizePhone(it.Value, region)
			if err != nil {
				errs.Add(field+".value", err.Error())
				continue
			}
			addKey(identity.Key{Type: identity.Phone, Value: e164})
		case TypeWaID:
			keys, err := identity.WaIDKeys(it.Value)
			if err != nil {
				errs.Add(field+".value", err.Error())
				continue
			}
			for _, k := range keys {
				addKey(k)
			}
		case TypeEmail:
			_, key, err := identity.NormalizeEmail(it.Value)
			if err != nil {
				errs.Add(field+".value", err.Error())
				continue
			}
			addKey(identity.Key{Type: identity.Email, Value: key})
		case TypeExternalID:
			if it.Source == nil {
				errs.Add(field+".source", "is required for type external_id")
				continue
			}
			source, err := identity.NormalizeSource(*it.Source)
			if err != nil {
				errs.Add(field+".source", err.Error())
				continue
			}
			v, err := identity.NormalizeExternalID(it.Value)
			if err != nil {
				errs.Add(field+".value", err.Error())
				continue
			}
			addKey(identity.Key{Type: identity.ExternalID, Source: source, Value: v})
		default:
			errs.Add(field+".type", "must be one of contact_id, phone, whatsapp, wa_id, email, external_id")
		}
	}
	return l, errs.Err()
}

// Match says that the identifier at Ord leads to Contact.
type Match struct {
	Ord     int32
	Contact uuid.UUID
}

// Outcome is the decision: the one contact and the identifiers that matched it, or the
// candidates of a conflict. Found is false when nothing matched.
type Outcome struct {
	Found      bool
	Contact    uuid.UUID
	MatchedOrd []int32
	Candidates []uuid.UUID
}

// Decide returns one contact when every match leads to it, the candidates when matches lead to
// several, and nothing when there are no matches.
func Decide(matches []Match) Outcome {
	var o Outcome
	for _, m := range matches {
		if !slices.Contains(o.Candidates, m.Contact) {
			o.Candidates = append(o.Candidates, m.Contact)
		}
		if !slices.Contains(o.MatchedOrd, m.Ord) {
			o.MatchedOrd = append(o.MatchedOrd, m.Ord)
		}
	}
	slices.Sort(o.MatchedOrd)
	if len(o.Candidates) == 1 {
		o.Found, o.Contact, o.Candidates = true, o.Candidates[0], nil
	}
	if len(o.Candidates) > 1 {
		o.MatchedOrd = nil
		slices.SortFunc(o.Candidates, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	}
	return o
}

// Package importplan works out, without a database, what an import's lines do when applied in
// line order, one after another, exactly as POST /v1/contacts would apply them: which contacts
// they create and update, which identities move, and which lines conflict or break a limit. The
// store then writes the outcome with COPY and set-based statements.
package importplan

import (
	"encoding/json"
	"slices"

	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/identity"
)

// Line is one valid line of an import.
type Line struct {
	No     int // 1-based line number in the request
	Upsert contact.Upsert
}

// Stored is a contact as the database holds it, locked.
type Stored struct {
	ID     uuid.UUID
	Fields contact.Fields
	Custom json.RawMessage
}

// Outcome is what a line did, as the status POST /v1/contacts would have answered it with.
type Outcome int

// The outcomes of a line.
const (
	Created  Outcome = iota + 1 // 201
	Updated                     // 200
	Conflict                    // 409: its identifiers lead to several contacts
	Invalid                     // 422: the contact it leads to would break a limit
)

// Result is one line's outcome.
type Result struct {
	No      int
	Outcome Outcome
	Contact uuid.UUID // the contact created or updated
	Err     error     // why a Conflict or Invalid line changed nothing (an *apperr.Error)
	// Earlier lists the lines before this one that created or updated the same contact.
	Earlier []int
}

// Contact is the final state of a contact the lines created or updated.
type Contact struct {
	ID     uuid.UUID
	New    bool
	Fields contact.Fields
	Custom json.RawMessage
	// Remove are the identities to delete from a stored contact before any is inserted, each as
	// the Key of a contact.Removal: one identity when Value is set, otherwise every identity of
	// the type and (when set) source. Their Unless is settled here, in line order, so the store
	// deletes them all.
	Remove []identity.Key
}

// Identity is an identity to insert.
type Identity struct {
	Key     identity.Key
	Contact uuid.UUID
}

// Plan is the outcome of an import.
type Plan struct {
	Results  []Result   // one per line, in line order
	Contacts []*Contact // the contacts created or updated, in the order of their first line
	attach   []held     // identities to insert, in identity.Compare order
}

// Tally counts the lines by outcome.
func (p Plan) Tally() (created, updated, conflict, invalid int) {
	for _, r := range p.Results {
		switch r.Outcome {
		case Created:
			created++
		case Updated:
			updated++
		case Conflict:
			conflict++
		case Invalid:
			invalid++
		}
	}
	return created, updated, conflict, invalid
}

// Attach calls fn for each identity to insert once the Remove of every contact is done, in
// identity.Compare order: the order every writer inserts identities in.
func (p Plan) Attach(fn func(Identity) error) error {
	for _, h := range p.attach {
		if err := fn(Identity{Key: h.key(), Contact: h.st.c.ID}); err != nil {
			return err
		}
	}
	return nil
}

// state is a contact while the lines apply; an import of 100,000 lines keeps one per contact,
// so it stays small. A contact holds a handful of keys: slices serve better than maps.
type state struct {
	c     Contact
	keys  []identity.Key // the identifiers of the lines it holds now
	orig  []identity.Key // those it held in the database
	lines []int          // lines that created or updated it
}

// held names one key of a state without copying it.
type held struct {
	st *state
	i  int
}

func (h held) key() identity.Key { return h.st.keys[h.i] }

// Build applies the lines in order. owners maps each identifier of the lines that a stored
// contact holds to that contact, and stored holds those contacts; newID names the contacts lines
// create.
func Build(lines []Line, owners map[identity.Key]uuid.UUID, stored map[uuid.UUID]Stored, newID func() uuid.UUID) Plan {
	var (
		plan    = Plan{Results: make([]Result, 0, len(lines))}
		touched []*state // in the order of their first line
	)
	byID := make(map[uuid.UUID]*state, len(stored))
	owner := make(map[identity.Key]*state, len(owners)+2*len(lines))
	for k, id := range owners {
		st := byID[id]
		if st == nil {
			s := stored[id]
			st = &state{c: Contact{ID: id, Fields: s.Fields, Custom: s.Custom}}
			byID[id] = st
		}
		owner[k] = st
		st.keys = append(st.keys, k)
		st.orig = append(st.orig, k)
	}
	for _, l := range lines {
		u := l.Upsert
		keys := u.Keys()
		var found []*state
		for _, k := range keys {
			if st := owner[k]; st != nil && !slices.Contains(found, st) {
				found = append(found, st)
			}
		}
		r := Result{No: l.No}
		switch len(found) {
		case 0:
			custom, err := contact.MergeCustom(nil, u.Custom)
			if err != nil {
				r.Outcome, r.Err = Invalid, err
				break
			}
			st := &state{c: Contact{ID: newID(), New: true, Fields: u.Apply(contact.Fields{}), Custom: custom}, keys: keys}
			for _, k := range keys {
				owner[k] = st
			}
			touched = append(touched, st)
			st.lines = append(st.lines, l.No)
			r.Outcome, r.Contact = Created, st.c.ID
		case 1:
			st := found[0]
			custom, err := contact.MergeCustom(st.c.Custom, u.Custom)
			if err != nil {
				r.Outcome, r.Err = Invalid, err
				break
			}
			next := u.Apply(st.c.Fields)
			remove, add := contact.Moves(st.c.Fields, next)
			for _, r := range remove {
				// The value Unless names is one of the line's identifiers: when this contact holds
				// it, in the database or from an earlier line, it is among st.keys.
				if kept, ok := r.Kept(); ok && slices.Contains(st.keys, kept) {
					continue
				}
				p := r.Key
				// An identity an earlier line attached is not in the database: nothing to delete
				// there. Skipping it keeps Remove to a few keys however many lines change the
				// contact.
				mayBeStored := p.Value == "" || slices.Contains(st.orig, p) || !slices.Contains(st.keys, p)
				st.keys = slices.DeleteFunc(st.keys, func(k identity.Key) bool {
					if matches(p, k) {
						delete(owner, k)
						return true
					}
					return false
				})
				if !st.c.New && mayBeStored && !slices.Contains(st.c.Remove, p) {
					st.c.Remove = append(st.c.Remove, p)
				}
			}
			for _, k := range add {
				owner[k] = st
				if !slices.Contains(st.keys, k) {
					st.keys = append(st.keys, k)
				}
			}
			st.c.Fields, st.c.Custom = next, custom
			if len(st.lines) == 0 {
				touched = append(touched, st)
			}
			r.Outcome, r.Contact, r.Earlier = Updated, st.c.ID, slices.Clone(st.lines)
			st.lines = append(st.lines, l.No)
		default:
			ids := make([]uuid.UUID, len(found))
			for i, st := range found {
				ids[i] = st.c.ID
			}
			r.Outcome, r.Err = Conflict, contact.OwnersConflict(ids)
		}
		plan.Results = append(plan.Results, r)
	}
	n := 0
	for _, st := range touched {
		n += len(st.keys)
	}
	plan.Contacts = make([]*Contact, 0, len(touched))
	plan.attach = make([]held, 0, n)
	for _, st := range touched {
		plan.Contacts = append(plan.Contacts, &st.c)
		for i, k := range st.keys {
			if slices.Contains(st.orig, k) && !slices.ContainsFunc(st.c.Remove, func(p identity.Key) bool { return matches(p, k) }) {
				continue // held in the database all along
			}
			plan.attach = append(plan.attach, held{st, i})
		}
	}
	slices.SortFunc(plan.attach, func(a, b held) int { return identity.Compare(a.key(), b.key()) })
	return plan
}

// matches tells whether the Key p of a contact.Removal takes identity k.
func matches(p, k identity.Key) bool {
	return p.Type == k.Type && (p.Source == "" || p.Source == k.Source) && (p.Value == "" || p.Value == k.Value)
}

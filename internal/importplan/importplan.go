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
	// Remove are the identities to delete from a stored contact before any is inserted, in the
	// form of contact.Moves: type and source, an empty source standing for every source.
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
	Attach   []Identity // identities to insert once Remove is done, in identity.Sorted order
}

// Keys lists every identifier of the lines, each once: the ones whose owners Build needs.
func Keys(lines []Line) []identity.Key {
	seen := make(map[identity.Key]bool, len(lines)*2)
	var keys []identity.Key
	for _, l := range lines {
		for _, k := range l.Upsert.Keys() {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// state is a contact while the lines apply.
type state struct {
	c     *Contact
	held  map[identity.Key]bool // the keys of the lines it holds now
	orig  map[identity.Key]bool // those it held in the database
	lines []int                 // lines that created or updated it
}

// Build applies the lines in order. owners maps each key of Keys(lines) that a stored contact
// holds to that contact, and stored holds those contacts; newID names the contacts lines create.
func Build(lines []Line, owners map[identity.Key]uuid.UUID, stored map[uuid.UUID]Stored, newID func() uuid.UUID) Plan {
	var plan Plan
	byID := make(map[uuid.UUID]*state, len(stored))
	owner := make(map[identity.Key]*state, len(owners)+2*len(lines))
	for k, id := range owners {
		st := byID[id]
		if st == nil {
			s := stored[id]
			st = &state{c: &Contact{ID: id, Fields: s.Fields, Custom: s.Custom}, held: map[identity.Key]bool{}, orig: map[identity.Key]bool{}}
			byID[id] = st
		}
		owner[k] = st
		st.held[k] = true
		st.orig[k] = true
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
			st := &state{c: &Contact{ID: newID(), New: true, Fields: u.Apply(contact.Fields{}), Custom: custom}, held: map[identity.Key]bool{}}
			for _, k := range keys {
				owner[k] = st
				st.held[k] = true
			}
			plan.Contacts = append(plan.Contacts, st.c)
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
			for _, p := range remove {
				for k := range st.held {
					if matches(p, k) {
						delete(st.held, k)
						delete(owner, k)
					}
				}
				if !st.c.New && !slices.Contains(st.c.Remove, p) {
					st.c.Remove = append(st.c.Remove, p)
				}
			}
			for _, k := range add {
				owner[k] = st
				st.held[k] = true
			}
			st.c.Fields, st.c.Custom = next, custom
			if len(st.lines) == 0 {
				plan.Contacts = append(plan.Contacts, st.c)
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
	for k, st := range owner {
		if len(st.lines) == 0 {
			continue // untouched
		}
		if st.orig[k] && !slices.ContainsFunc(st.c.Remove, func(p identity.Key) bool { return matches(p, k) }) {
			continue // held in the database all along
		}
		plan.Attach = append(plan.Attach, Identity{Key: k, Contact: st.c.ID})
	}
	slices.SortFunc(plan.Attach, func(a, b Identity) int { return identity.Compare(a.Key, b.Key) })
	return plan
}

// matches tells whether a removal of contact.Moves takes identity k.
func matches(p, k identity.Key) bool {
	return p.Type == k.Type && (p.Source == "" || p.Source == k.Source)
}

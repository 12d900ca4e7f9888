// Package importer holds the rules of a bulk import that need no database: lines that share an
// identifier become one group (one contact), and a group's lines fold into one upsert in line
// order, as if they had been sent one after another.
package importer

import (
	"encoding/json"
	"slices"

	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/identity"
)

// Line is one valid line of an import.
type Line struct {
	No     int // 1-based line number in the request
	Upsert contact.Upsert
}

// Group is the lines that share identifiers, directly or through each other: they make or
// update one contact.
type Group struct {
	Lines  []int          // line numbers, ascending
	Keys   []identity.Key // every identifier of the lines, each once
	Upsert contact.Upsert // the lines folded in order
}

// GroupLines joins lines that share an identifier. Groups come in the order of their first line.
func GroupLines(lines []Line) []Group {
	parent := make([]int, len(lines))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	firstWith := make(map[identity.Key]int, len(lines)*2)
	for i, l := range lines {
		for _, k := range l.Upsert.Keys() {
			if j, ok := firstWith[k]; ok {
				a, b := find(i), find(j)
				// The smaller index stays the root, so a group is named by its first line.
				parent[max(a, b)] = min(a, b)
			} else {
				firstWith[k] = i
			}
		}
	}
	index := make(map[int]int) // root line index -> group index
	var groups []Group
	members := make([][]contact.Upsert, 0)
	for i, l := range lines {
		r := find(i)
		g, ok := index[r]
		if !ok {
			g = len(groups)
			index[r] = g
			groups = append(groups, Group{})
			members = append(members, nil)
		}
		groups[g].Lines = append(groups[g].Lines, l.No)
		members[g] = append(members[g], l.Upsert)
		for _, k := range l.Upsert.Keys() {
			if !slices.Contains(groups[g].Keys, k) {
				groups[g].Keys = append(groups[g].Keys, k)
			}
		}
	}
	for g := range groups {
		groups[g].Upsert = Fold(members[g]...)
	}
	return groups
}

// Fold applies upserts in order, as if they were sent one after another to one contact: fields
// given later overwrite, and for each custom field the last line that mentions it decides.
func Fold(us ...contact.Upsert) contact.Upsert {
	var out contact.Upsert
	custom := map[string]json.RawMessage{} // nil value: deleted
	for _, u := range us {
		out.Fields = u.Apply(out.Fields)
		for k, v := range u.Custom.Set {
			custom[k] = v
		}
		for _, k := range u.Custom.Delete {
			custom[k] = nil
		}
	}
	for k, v := range custom {
		if v == nil {
			out.Custom.Delete = append(out.Custom.Delete, k)
			continue
		}
		if out.Custom.Set == nil {
			out.Custom.Set = make(map[string]json.RawMessage, len(custom))
		}
		out.Custom.Set[k] = v
	}
	slices.Sort(out.Custom.Delete)
	return out
}

// MergeCustom is what a contact's custom_fields become after an upsert's change, and whether
// they still keep within the limits.
func MergeCustom(stored json.RawMessage, change contact.CustomFields) (json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	if len(stored) > 0 {
		if err := json.Unmarshal(stored, &fields); err != nil {
			return nil, err
		}
	}
	for k, v := range change.Set {
		fields[k] = v
	}
	for _, k := range change.Delete {
		delete(fields, k)
	}
	merged, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return merged, contact.CheckStored(merged)
}

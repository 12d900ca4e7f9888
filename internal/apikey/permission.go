package apikey

import (
	"fmt"
	"math/bits"
)

// Permissions are what a key may be granted, in the order of openapi.yaml's Permission enum (a
// test keeps the two equal). Each operation declares in the spec which of them it needs.
var Permissions = []string{
	"contacts:read", "contacts:write",
	"channels:read", "channels:write",
	"webhooks:read", "webhooks:write",
	"events:read",
	"workspace:read", "workspace:write",
	"api_keys:read", "api_keys:write",
}

// Perms is a set of permissions, one bit each in the order of Permissions, so that checking a
// request's is one AND.
type Perms uint32

// All holds every permission: what a workspace's first key holds.
var All = Perms(1)<<len(Permissions) - 1

var bitOf = func() map[string]Perms {
	m := make(map[string]Perms, len(Permissions))
	for i, p := range Permissions {
		m[p] = 1 << i
	}
	return m
}()

// PermOf is the one permission called name; ok is false for an unknown name.
func PermOf(name string) (p Perms, ok bool) {
	p, ok = bitOf[name]
	return p, ok
}

// ParsePerms reads permission names; an unknown name is an error naming it.
func ParsePerms(names []string) (Perms, error) {
	var p Perms
	for _, n := range names {
		b, ok := PermOf(n)
		if !ok {
			return 0, fmt.Errorf("unknown permission %q", n)
		}
		p |= b
	}
	return p, nil
}

// Has tells whether p holds every permission of q.
func (p Perms) Has(q Perms) bool { return p&q == q }

// Missing is the first permission of q that p lacks, "" when it lacks none.
func (p Perms) Missing(q Perms) string {
	lack := q &^ p
	if lack == 0 {
		return ""
	}
	return Permissions[bits.TrailingZeros32(uint32(lack))]
}

// Names lists the permissions of p in the order of Permissions.
func (p Perms) Names() []string {
	names := make([]string, 0, bits.OnesCount32(uint32(p)))
	for i, n := range Permissions {
		if p&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

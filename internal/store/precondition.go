package store

import (
	"github.com/google/uuid"

	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/ids"
)

// Precondition says whether an object (a contact, channel or webhook endpoint), as locked by a
// write, is the version the request expects (its If-Match); nil expects none. A write checks it
// under the row lock, in the transaction that changes the row, so two writes that expect one
// version cannot both pass.
type Precondition[T any] func(T) bool

// check is nil when p holds for row; otherwise the refusal, naming the object as noun and its id
// with the id prefix given.
func (p Precondition[T]) check(row T, noun, prefix string, id uuid.UUID) error {
	if p == nil || p(row) {
		return nil
	}
	return apperr.New(apperr.Precondition, "%s %q changed since the version If-Match names", noun, ids.Format(prefix, id))
}

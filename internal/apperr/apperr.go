// Package apperr holds the errors the domain rules return. Each carries a Code; the HTTP layer
// maps codes to statuses in one table, so no rule below it knows about HTTP.
package apperr

import (
	"fmt"
)

// Code classifies an error by what the caller can do about it.
type Code int

// The codes. Internal is anything unexpected: its message is never shown to a client.
const (
	Internal     Code = iota
	BadRequest        // a parameter or a body cannot be read as the operation declares it
	Invalid           // the request's values break a rule
	NotFound          // no such resource in the caller's workspace
	Conflict          // the request contradicts stored state
	Unauthorized      // no valid API key
	Unavailable       // the server cannot do this now (configuration, contention)
	Upstream          // a provider behind a channel failed, or refused the channel's credentials
	UpstreamSlow      // a provider behind a channel did not answer in time
	TooLarge          // the request holds more than the server takes at once
	Gone              // what was asked for is no longer kept
	Precondition      // the resource is not the version the request's If-Match names
	Forbidden         // the API key lacks a permission the operation needs
	RateLimited       // the API key, or the client's address, is over its rate limit
)

// FieldError names one invalid field by its JSON path.
type FieldError struct {
	Field   string
	Message string
}

// Error is a domain error with what a client needs to act on it.
type Error struct {
	Code       Code
	Message    string
	Fields     []FieldError
	Candidates []string // contact ids, for identity conflicts
	Permission string   // the permission a Forbidden request lacked
}

func (e *Error) Error() string { return e.Message }

// BadParam returns a BadRequest error naming a query parameter.
func BadParam(param, message string) *Error {
	return &Error{Code: BadRequest, Message: param + " " + message, Fields: []FieldError{{Field: param, Message: message}}}
}

// NotFoundf returns a NotFound error.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Code: NotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflictf returns a Conflict error naming the contacts involved.
func Conflictf(candidates []string, format string, args ...any) *Error {
	return &Error{Code: Conflict, Message: fmt.Sprintf(format, args...), Candidates: candidates}
}

// New returns an error with a code and a message for the client.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Fields collects field errors so that one response can name every invalid field.
type Fields []FieldError

// Add records that field is invalid.
func (f *Fields) Add(field, message string) {
	*f = append(*f, FieldError{Field: field, Message: message})
}

// Err returns an Invalid error listing the fields, or nil when there are none.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	msg := f[0].Field + " " + f[0].Message
	if len(f) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(f)-1)
	}
	return &Error{Code: Invalid, Message: msg, Fields: f}
}

// InvalidField returns an Invalid error for one field.
func InvalidField(field, message string) error {
	var f Fields
	f.Add(field, message)
	return f.Err()
}

package server

// DecodeJSON is decodeJSON, for tests of the strict decoder on its own.
var DecodeJSON = decodeJSON

// StatusOf is the status the server answers an error with.
func StatusOf(err error) int { return problemOf(err).Status }

// SealedAnswers are the operations whose kept idempotent answers are sealed.
var SealedAnswers = sealedAnswers

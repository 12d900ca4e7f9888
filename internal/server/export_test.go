package server

// DecodeJSON is decodeJSON, for tests of the strict decoder on its own.
var DecodeJSON = decodeJSON

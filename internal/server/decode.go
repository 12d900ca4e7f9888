package server

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wazapin/wazapin/internal/apperr"
)

// maxBodyDepth bounds how deep a request body may nest arrays and objects. No request schema
// nests more than a few levels, and custom fields at most contact.MaxCustomDepth below their
// own, so deeper text is refused before any decoder walks it.
const maxBodyDepth = 64

// maxFaults bounds how many fields one refusal names, so that a body of a million unknown
// members gets a short answer.
const maxFaults = 20

// decodeJSON decodes data, which must hold exactly one JSON value, into v, a pointer to a
// generated request type, as strictly as openapi.yaml reads. It refuses text that is not UTF-8;
// any string, key or value, holding the NUL character or a lone UTF-16 surrogate escape (which
// PostgreSQL cannot store, and which Go would silently replace in a string but keep in raw
// JSON); nesting deeper than maxBodyDepth; members v has no field for; values of the wrong JSON
// type; malformed JSON and anything after the value. Every refusal is an *apperr.Error worded
// for the client that names the fields at fault by their JSON paths (custom_fields.a.b[2]);
// whole names the text as a whole in messages and fields ("body", or "line" for an import line).
func decodeJSON(data []byte, v any, whole string) error {
	if !utf8.Valid(data) {
		return &apperr.Error{Code: apperr.BadRequest, Message: "the " + whole + " is not valid UTF-8"}
	}
	// Only an escape can spell NUL or a surrogate in valid UTF-8 JSON, and only many brackets can
	// nest deep: two vectorised scans clear the common body, and only the rest is walked.
	if bytes.Contains(data, []byte(`\u`)) || bytes.Count(data, []byte("{"))+bytes.Count(data, []byte("[")) > maxBodyDepth {
		if err := checkText(data, whole); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if end := dec.InputOffset(); len(bytes.TrimLeft(data[end:], " \t\r\n")) > 0 {
			return malformed(fmt.Sprintf("malformed JSON at offset %d: the %s goes on after its JSON value", end, whole))
		}
		return nil
	}
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		// Its text speaks of JSON ("invalid character 'x' looking for beginning of value").
		return malformed(fmt.Sprintf("malformed JSON at offset %d: %s", syntaxErr.Offset, syntaxErr.Error()))
	case errors.Is(err, io.EOF):
		return malformed(fmt.Sprintf("the %s is empty; it must be %s", whole, jsonKindOf(reflect.TypeOf(v))))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed(fmt.Sprintf("malformed JSON: the %s ends too early", whole))
	}
	// A member v has no field for, or a value of another type: Go's error says which in Go's
	// terms (and without the path when in an array), so find and word them again.
	if err := findFaults(data, reflect.TypeOf(v), whole); err != nil {
		return err
	}
	return &apperr.Error{Code: apperr.BadRequest, Message: fmt.Sprintf("the %s does not have the form this operation takes; see /docs", whole)}
}

func malformed(msg string) error {
	return &apperr.Error{Code: apperr.BadRequest, Message: msg}
}

// pathStep is one step of a JSON path: a member, or an array element.
type pathStep struct {
	raw   []byte // the member's name as written between its quotes, by the text walker
	name  string // the member's name, by the fault finder
	index int    // the element's index
	elem  bool
}

// formatPath writes a JSON path the way field errors name fields: custom_fields.a.b[2], or whole
// for the value itself.
func formatPath(steps []pathStep, whole string) string {
	var b strings.Builder
	for _, s := range steps {
		if s.elem {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		name := s.name
		if s.raw != nil {
			name = unescapeName(s.raw)
		}
		if utf8.RuneCountInString(name) > maxNameLen {
			name = string([]rune(name)[:maxNameLen]) + "…"
		}
		b.WriteString(name)
	}
	if b.Len() == 0 {
		return whole
	}
	return b.String()
}

// maxNameLen is how much of a member's name a path shows.
const maxNameLen = 100

// unescapeName is a member's name as written between its quotes, unescaped unless that would
// lose what the client wrote (a NUL, a lone surrogate).
func unescapeName(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil || strings.ContainsRune(s, 0) || strings.ContainsRune(s, utf8.RuneError) {
		return string(raw)
	}
	return s
}

// fault is a refusal naming the field at path, or the whole text when the path is empty (which
// is then named by whole, as a member could be too: a note's "body").
func fault(code apperr.Code, path []pathStep, whole, message string) *apperr.Error {
	field := formatPath(path, whole)
	return &apperr.Error{Code: code, Message: detail(field, len(path) == 0, whole, message), Fields: []apperr.FieldError{{Field: field, Message: message}}}
}

// detail words a field's refusal as a sentence: "name must be a JSON string", "the body must be
// a JSON object".
func detail(field string, isWhole bool, whole, message string) string {
	if isWhole {
		return "the " + whole + " " + message
	}
	return field + " " + message
}

// errStop ends a walk of text that is not JSON: the decoder reports where and why.
var errStop = errors.New("not JSON")

// checkText walks JSON text with the path to where it is, and refuses the first string (key or
// value) that holds NUL or a lone surrogate escape, or the first array or object nested deeper
// than maxBodyDepth. It stops, refusing nothing, at the first syntax error; the decoder reports
// it. The walk goes no deeper than maxBodyDepth, so it needs no more stack than that.
func checkText(data []byte, whole string) error {
	w := &textWalker{data: data, whole: whole}
	if err := w.value(0); err != nil && err != errStop {
		return err
	}
	return nil
}

type textWalker struct {
	data  []byte
	i     int
	path  []pathStep
	whole string
}

func (w *textWalker) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\r', '\n':
			w.i++
		default:
			return
		}
	}
}

func (w *textWalker) peek() byte {
	if w.i < len(w.data) {
		return w.data[w.i]
	}
	return 0
}

func (w *textWalker) value(depth int) error {
	w.space()
	switch w.peek() {
	case '{':
		return w.object(depth + 1)
	case '[':
		return w.array(depth + 1)
	case '"':
		return w.str(false)
	}
	// A number or a literal; the decoder checks its spelling.
	start := w.i
	for w.i < len(w.data) && literalByte[w.data[w.i]] {
		w.i++
	}
	if w.i == start {
		return errStop
	}
	return nil
}

func (w *textWalker) object(depth int) error {
	if depth > maxBodyDepth {
		return w.tooDeep()
	}
	w.i++
	w.space()
	if w.peek() == '}' {
		w.i++
		return nil
	}
	for {
		w.space()
		if w.peek() != '"' {
			return errStop
		}
		start := w.i
		if err := w.str(true); err != nil {
			return err
		}
		key := w.data[start+1 : w.i-1]
		w.space()
		if w.peek() != ':' {
			return errStop
		}
		w.i++
		w.path = append(w.path, pathStep{raw: key})
		if err := w.value(depth); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.space()
		switch w.peek() {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return errStop
		}
	}
}

func (w *textWalker) array(depth int) error {
	if depth > maxBodyDepth {
		return w.tooDeep()
	}
	w.i++
	w.space()
	if w.peek() == ']' {
		w.i++
		return nil
	}
	for n := 0; ; n++ {
		w.path = append(w.path, pathStep{index: n, elem: true})
		if err := w.value(depth); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.space()
		switch w.peek() {
		case ',':
			w.i++
		case ']':
			w.i++
			return nil
		default:
			return errStop
		}
	}
}

// literalByte tells the bytes a number or a literal (true, false, null) may be spelt with.
var literalByte = func() (t [256]bool) {
	for _, c := range []byte("+-.0123456789eEtrufalsn") {
		t[c] = true
	}
	return t
}()

// tooDeep refuses the array or object at the walker's path, named by its first two steps: the
// whole path would be as long as the nesting (custom_fields.a[0][0]…).
func (w *textWalker) tooDeep() error {
	return fault(apperr.Invalid, w.path[:min(len(w.path), 2)], w.whole, fmt.Sprintf("nests arrays and objects more than %d levels deep", maxBodyDepth))
}

// str moves past the string at the walker's position, refusing the NUL character and lone
// surrogates in it; a key's refusal names the key itself.
func (w *textWalker) str(isKey bool) error {
	d := w.data
	start := w.i
	i := start + 1
	for {
		j := bytes.IndexAny(d[i:], `"\`)
		if j < 0 {
			return errStop
		}
		i += j
		if d[i] == '"' {
			w.i = i + 1
			return nil
		}
		if i+1 >= len(d) {
			return errStop
		}
		if d[i+1] != 'u' {
			i += 2
			continue
		}
		r, ok := hex4(d[i+2:])
		if !ok {
			return errStop
		}
		var problem string
		switch {
		case r == 0:
			problem = `must not contain the NUL character (\u0000)`
		case r >= 0xD800 && r <= 0xDBFF:
			if len(d) >= i+12 && d[i+6] == '\\' && d[i+7] == 'u' {
				if lo, ok := hex4(d[i+8:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 12
					continue
				}
			}
			problem = loneSurrogate(d[i : i+6])
		case r >= 0xDC00 && r <= 0xDFFF:
			problem = loneSurrogate(d[i : i+6])
		}
		if problem == "" {
			i += 6
			continue
		}
		if !isKey {
			return fault(apperr.Invalid, w.path, w.whole, problem)
		}
		end := stringEnd(d, i)
		return fault(apperr.Invalid, append(slices.Clip(w.path), pathStep{raw: d[start+1 : end]}), w.whole, "key "+problem)
	}
}

func loneSurrogate(esc []byte) string {
	return fmt.Sprintf(`must not contain %s: a UTF-16 surrogate escape is a character only as a pair, \uD800-\uDBFF followed by \uDC00-\uDFFF`, esc)
}

// stringEnd is the index of the quote that ends the string d[i] is inside, or len(d).
func stringEnd(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case '\\':
			i += 2
		case '"':
			return i
		default:
			i++
		}
	}
	return len(d)
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

var (
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	timeType            = reflect.TypeFor[time.Time]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// findFaults walks valid JSON text beside the Go type it was decoded into, and refuses, in
// document order, the members the type has no field for and the values of another JSON type,
// naming each by its path. It runs only once decoding has failed, so it costs only a refused
// request.
func findFaults(data []byte, t reflect.Type, whole string) error {
	f := &faultFinder{whole: whole}
	f.walk(data, t)
	if len(f.faults) == 0 {
		return nil
	}
	first := f.faults[0]
	msg := detail(first.Field, f.firstWhole, whole, first.Message)
	if len(f.faults) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(f.faults)-1)
	}
	return &apperr.Error{Code: apperr.BadRequest, Message: msg, Fields: f.faults}
}

type faultFinder struct {
	dec        *json.Decoder
	path       []pathStep
	faults     []apperr.FieldError
	firstWhole bool // the first fault is the whole value's
	whole      string
}

// walk finds the faults of data, one JSON value at the finder's path, read as t.
func (f *faultFinder) walk(data []byte, t reflect.Type) {
	outer := f.dec
	f.dec = json.NewDecoder(bytes.NewReader(data))
	f.dec.UseNumber()
	_ = f.value(t)
	f.dec = outer
}

// add records a fault at the finder's path; past maxFaults it ends the walk.
func (f *faultFinder) add(message string) error {
	if len(f.faults) < maxFaults {
		f.firstWhole = f.firstWhole || len(f.faults) == 0 && len(f.path) == 0
		f.faults = append(f.faults, apperr.FieldError{Field: formatPath(f.path, f.whole), Message: message})
	}
	if len(f.faults) >= maxFaults {
		return errStop
	}
	return nil
}

// value reads the next value as t would.
func (f *faultFinder) value(t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return f.skipValue()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return f.unmarshaler(t)
	}
	tok, err := f.dec.Token()
	if err != nil {
		return errStop
	}
	if tok == nil {
		return nil // null leaves a Go value as it is; the operation decides whether that will do
	}
	want := jsonKindOf(t)
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return f.mismatch(tok, want)
		}
		return f.members(t)
	case reflect.Map:
		if tok != json.Delim('{') {
			return f.mismatch(tok, want)
		}
		for f.dec.More() {
			key, err := f.dec.Token()
			if err != nil {
				return errStop
			}
			f.path = append(f.path, pathStep{name: key.(string)})
			if err := f.value(t.Elem()); err != nil {
				return err
			}
			f.path = f.path[:len(f.path)-1]
		}
		_, err = f.dec.Token()
		return err
	case reflect.Slice, reflect.Array:
		if tok != json.Delim('[') {
			return f.mismatch(tok, want)
		}
		for n := 0; f.dec.More(); n++ {
			f.path = append(f.path, pathStep{index: n, elem: true})
			if err := f.value(t.Elem()); err != nil {
				return err
			}
			f.path = f.path[:len(f.path)-1]
		}
		_, err = f.dec.Token()
		return err
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return f.mismatch(tok, want)
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return f.mismatch(tok, want)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return f.mismatch(tok, want)
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			lo, hi := -(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1
			return f.add(fmt.Sprintf("must be an integer from %d to %d", lo, hi))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := tok.(json.Number)
		if !ok {
			return f.mismatch(tok, want)
		}
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			return f.add(fmt.Sprintf("must be an integer from 0 to %d", ^uint64(0)>>(64-t.Bits())))
		}
	case reflect.Float32, reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return f.mismatch(tok, want)
		}
		if _, err := strconv.ParseFloat(string(n), t.Bits()); err != nil {
			return f.add("must be a number within the range of a 64-bit float")
		}
	default:
		return f.skipRest(tok)
	}
	return nil
}

// members reads an object's members as the struct t would, after its '{'.
func (f *faultFinder) members(t reflect.Type) error {
	fields := jsonFields(t)
	for f.dec.More() {
		tok, err := f.dec.Token()
		if err != nil {
			return errStop
		}
		key := tok.(string)
		f.path = append(f.path, pathStep{name: key})
		ft, ok := fields.lookup(key)
		if ok {
			err = f.value(ft)
		} else {
			if err = f.add("is not a known field; expected one of " + strings.Join(fields.names, ", ")); err == nil {
				err = f.skipValue()
			}
		}
		if err != nil {
			return err
		}
		f.path = f.path[:len(f.path)-1]
	}
	_, err := f.dec.Token()
	return err
}

// unmarshaler reads the next value into a type that decodes itself, and words its refusal.
func (f *faultFinder) unmarshaler(t reflect.Type) error {
	var raw json.RawMessage
	if err := f.dec.Decode(&raw); err != nil {
		return errStop
	}
	if string(raw) == "null" {
		return nil
	}
	if t.Kind() == reflect.Map && t.Key().Kind() == reflect.Bool {
		// nullable.Nullable[T]: a PATCH member that may also be null; otherwise it is a T.
		f.walk(raw, t.Elem())
		if len(f.faults) >= maxFaults {
			return errStop
		}
		return nil
	}
	p := reflect.New(t).Interface()
	var err error
	if u, ok := p.(json.Unmarshaler); ok {
		err = u.UnmarshalJSON(raw)
	} else if raw[0] != '"' {
		err = errStop
	} else {
		var s string
		if err = json.Unmarshal(raw, &s); err == nil {
			err = p.(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
		}
	}
	switch {
	case err == nil:
		return nil
	case t == timeType:
		return f.add("must be a date-time string as RFC 3339 writes it, such as 2025-05-20T16:20:14Z")
	}
	return f.add("has an invalid value")
}

// mismatch refuses a value of another JSON type than want, and moves past it.
func (f *faultFinder) mismatch(tok json.Token, want string) error {
	if err := f.add("must be " + want); err != nil {
		return err
	}
	return f.skipRest(tok)
}

// skipValue moves past the next value.
func (f *faultFinder) skipValue() error {
	tok, err := f.dec.Token()
	if err != nil {
		return errStop
	}
	return f.skipRest(tok)
}

// skipRest moves past the rest of a value whose first token was tok.
func (f *faultFinder) skipRest(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := f.dec.Token()
		if err != nil {
			return errStop
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// jsonKindOf names, for the client, the JSON type a Go type is read from.
func jsonKindOf(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
		return "JSON"
	case t == timeType:
		return "a date-time string"
	case t == rawMessageType:
		return "JSON"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "JSON"
}

// fieldSet is what members a struct decodes, by their JSON names.
type fieldSet struct {
	types map[string]reflect.Type
	names []string // sorted, for messages
}

// jsonFields lists the members encoding/json decodes into the struct t.
func jsonFields(t reflect.Type) fieldSet {
	fs := fieldSet{types: map[string]reflect.Type{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = sf.Name
		}
		fs.types[name] = sf.Type
		fs.names = append(fs.names, name)
	}
	slices.Sort(fs.names)
	return fs
}

// lookup finds the field a member decodes into: by its exact name, or as encoding/json also
// does, ignoring case.
func (fs fieldSet) lookup(key string) (reflect.Type, bool) {
	if t, ok := fs.types[key]; ok {
		return t, true
	}
	for name, t := range fs.types {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

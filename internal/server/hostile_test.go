package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/provider/providertest"
)

// TestHostileRequests sends, for every operation of openapi.yaml, requests built from its
// declaration and then made hostile: bodies with lone surrogates and NUL in a string or key,
// nesting 10,000 levels deep, unknown members, values of the wrong JSON type, unstorable
// numbers, bodies that are not objects, cut short or not UTF-8; imports mixing such lines with
// valid ones; path and query parameters of the wrong type or with odd text. No answer may be a
// 5xx or outside the spec (the harness checks every answer against openapi.yaml), a hostile body
// must be refused naming the field at fault, and an import must reject exactly its hostile lines
// and land the others.
//
// WAZAPIN_FUZZ_REQUESTS sets how many requests it sends (5,000 by default, a few seconds;
// 100,000 take a minute and a half on two cores); WAZAPIN_FUZZ_SEED replays a run, whose seed a
// failure prints.
func TestHostileRequests(t *testing.T) {
	requests := envInt(t, "WAZAPIN_FUZZ_REQUESTS", 5000)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WAZAPIN_FUZZ_SEED"); s != "" {
		seed = uint64(envInt(t, "WAZAPIN_FUZZ_SEED", 0))
	}
	t.Logf("seed %d (WAZAPIN_FUZZ_SEED=%d replays this run), %d requests", seed, seed, requests)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with WAZAPIN_FUZZ_SEED=%d WAZAPIN_FUZZ_REQUESTS=%d", seed, requests)
		}
	})

	e := newEnv(t)
	doc, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	f := &fuzzer{t: t, e: e, statuses: map[int]int{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), gateway: providertest.NewGateway(t, providertest.Config{})}
	f.contactSchema = doc.Components.Schemas["ContactCreate"].Value
	f.contactID = f.freshContact()
	f.channelID = f.freshChannel()
	f.endpointID = f.freshEndpoint()

	var ops []fuzzOp
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			ops = append(ops, fuzzOp{method: method, path: path, op: op, params: append(slices.Clone(item.Parameters), op.Parameters...)})
		}
	}
	slices.SortFunc(ops, func(a, b fuzzOp) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	// Every operation is asked at least once, the rest at random.
	for i := range max(requests, len(ops)) {
		op := ops[i%len(ops)]
		if i >= len(ops) {
			op = ops[f.rng.IntN(len(ops))]
		}
		f.send(op)
		if t.Failed() && f.failures > 10 {
			t.Fatalf("stopping after %d failures", f.failures)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("hostile input logged server errors:\n%s", logs)
	}
	t.Logf("answers by status: %v; import lines: %d valid, %d hostile", f.statuses, f.validLines, f.hostileLines)
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return int(n)
}

type fuzzOp struct {
	method, path string
	op           *openapi3.Operation
	params       openapi3.Parameters
}

type fuzzer struct {
	t                  *testing.T
	e                  *env
	rng                *rand.Rand
	gateway            *providertest.FakeGateway
	contactSchema      *openapi3.Schema
	contactID          string
	channelID          string
	endpointID         string
	unique             int
	failures           int
	statuses           map[int]int
	validLines         int
	hostileLines       int
	lastMethod, lastTo string
}

func (f *fuzzer) fail(format string, args ...any) {
	f.t.Helper()
	f.failures++
	f.t.Errorf("%s %s: "+format, append([]any{f.lastMethod, f.lastTo}, args...)...)
}

func (f *fuzzer) freshContact() string {
	n := f.next()
	return f.e.create(api.ContactCreate{PhoneNumber: ptr(fmt.Sprintf("+62857%08d", n))}).Id
}

func (f *fuzzer) freshChannel() string {
	return f.e.channel(api.WhatsappGateway, f.gateway.Credentials()).Id
}

// freshEndpoint makes a webhook endpoint, deleting the oldest when the workspace has as many as
// it may (random creations fill it).
func (f *fuzzer) freshEndpoint() string {
	body := []byte(`{"url": "https://hooks.example.com/fuzz"}`)
	status, answer := f.e.do("POST", "/v1/webhook-endpoints", body)
	if status == http.StatusConflict {
		list, _ := f.e.c.ListWebhookEndpointsWithResponse(bg)
		f.e.do("DELETE", "/v1/webhook-endpoints/"+list.JSON200.Data[0].Id, nil)
		status, answer = f.e.do("POST", "/v1/webhook-endpoints", body)
	}
	var res api.WebhookEndpointSecretResponse
	if err := json.Unmarshal(answer, &res); status != http.StatusCreated || err != nil {
		f.t.Fatalf("fresh webhook endpoint: %d %s", status, answer)
	}
	return res.Data.Id
}

func (f *fuzzer) next() int {
	f.unique++
	return f.unique
}

// send asks op once, with a hostile body or hostile parameters.
func (f *fuzzer) send(op fuzzOp) {
	params := f.params(op)
	var hostileParam, hostileValue string
	var hostile []string
	var body *jnode
	var m mutation
	content := ""
	if op.op.RequestBody != nil {
		for ct := range op.op.RequestBody.Value.Content {
			content = ct
		}
	}
	switch {
	case content == "application/x-ndjson":
		f.sendImport(op, params)
		return
	case content != "" && (len(op.params) == 0 || f.rng.IntN(10) < 8):
		body = f.value(op.op.RequestBody.Value.Content[content].Schema.Value)
		m = f.mutate(body, "body")
	case len(op.params) > 0:
		if content != "" {
			body = f.value(op.op.RequestBody.Value.Content[content].Schema.Value)
		}
		hostileParam, hostileValue = f.hostileParam(op)
	}
	to, hostile := f.url(op, params, hostileParam, hostileValue)
	f.lastMethod, f.lastTo = op.method, to
	var raw []byte
	if body != nil {
		raw = []byte(m.text)
		if m.text == "" {
			raw = []byte(body.String())
		}
	}
	status, answer := f.e.do(op.method, to, raw)
	f.statuses[status]++
	f.check(status, answer, m, hostile)
	if op.method == http.MethodDelete && status < 300 {
		switch op.path {
		case "/v1/contacts/{contactID}":
			f.contactID = f.freshContact()
		case "/v1/channels/{channelID}":
			f.channelID = f.freshChannel()
		case "/v1/webhook-endpoints/{endpointID}":
			f.endpointID = f.freshEndpoint()
		}
	}
}

// check holds one answer to what its request deserved.
func (f *fuzzer) check(status int, answer []byte, m mutation, hostile []string) {
	f.t.Helper()
	if status >= 500 {
		f.fail("status %d (%s): %s", status, m.what, answer)
		return
	}
	if status < 400 {
		if m.what != "" {
			f.fail("%s was accepted (%d): %.300s", m.what, status, answer)
		}
		return
	}
	noGoWords(f.t, answer)
	var p api.Problem
	if err := json.Unmarshal(answer, &p); err != nil {
		f.fail("not a problem: %s", answer)
		return
	}
	named := fields(p)
	switch {
	case m.what != "":
		if m.status != 0 && status != m.status && !(m.status == 4 && status/100 == 4) {
			f.fail("%s answered %d, want %d: %s", m.what, status, m.status, answer)
		}
		if m.field != "" && !slices.ContainsFunc(named, func(n string) bool { return related(n, m.field, m.exact) }) {
			f.fail("%s: fields %v do not name %s: %s", m.what, named, m.field, answer)
		}
	case len(hostile) > 0 && status == http.StatusBadRequest:
		if !slices.ContainsFunc(named, func(n string) bool { return slices.Contains(hostile, n) }) {
			f.fail("hostile %v answered 400 naming %v: %s", hostile, named, answer)
		}
	}
}

// related tells whether a named field is the field at fault, or (unless exact) a field that holds
// it or that it holds: custom_fields.a for custom_fields.a.b[2].
func related(named, fault string, exact bool) bool {
	if named == fault {
		return true
	}
	if exact {
		return false
	}
	within := func(inner, outer string) bool {
		return strings.HasPrefix(inner, outer) && (inner[len(outer)] == '.' || inner[len(outer)] == '[')
	}
	return len(named) > len(fault) && within(named, fault) || len(fault) > len(named) && within(fault, named)
}

// sendImport posts NDJSON lines, valid ones and hostile ones, and insists that exactly the hostile
// ones are rejected, each naming its field at fault.
func (f *fuzzer) sendImport(op fuzzOp, params map[string]string) {
	var lines []string
	hostile := map[int]mutation{}
	valid := 0
	for range 2 + f.rng.IntN(10) {
		line := f.value(f.contactSchema)
		switch f.rng.IntN(3) {
		case 0:
			lines = append(lines, line.String())
			valid++
		case 1:
			m := f.mutate(line, "line")
			if m.text == "" {
				m.text = line.String()
			}
			if strings.ContainsAny(m.text, "\r\n") || strings.TrimSpace(m.text) == "" {
				continue // would not be one line
			}
			lines = append(lines, m.text)
			hostile[len(lines)] = m
		default:
			if f.rng.IntN(4) == 0 {
				lines = append(lines, "")
			}
		}
	}
	to, _ := f.url(op, params, "", "")
	f.lastMethod, f.lastTo = op.method, to
	status, answer := f.e.do(op.method, to, []byte(strings.Join(lines, "\n")), "Content-Type", "application/x-ndjson")
	f.statuses[status]++
	f.validLines += valid
	f.hostileLines += len(hostile)
	if status != http.StatusOK {
		f.fail("import answered %d: %s", status, answer)
		return
	}
	var res api.ImportResponse
	if err := json.Unmarshal(answer, &res); err != nil {
		f.fail("import answer: %v: %s", err, answer)
		return
	}
	noGoWords(f.t, answer)
	if got := res.Data.Created + res.Data.Updated; got != valid {
		f.fail("%d valid lines, %d landed: %s", valid, got, answer)
	}
	var rejected []int
	for _, r := range res.Data.Rejected {
		rejected = append(rejected, r.Line)
		m, ok := hostile[r.Line]
		switch {
		case !ok:
			f.fail("valid line %d rejected: %+v\n%s", r.Line, r, lines[r.Line-1])
		case r.Reason != api.ImportRejectionReasonInvalid:
			f.fail("line %d (%s) rejected as %s", r.Line, m.what, r.Reason)
		case m.field != "":
			var named []string
			if r.Errors != nil {
				for _, fe := range *r.Errors {
					named = append(named, fe.Field)
				}
			}
			if !slices.ContainsFunc(named, func(n string) bool { return related(n, m.field, m.exact) }) {
				f.fail("line %d (%s): fields %v do not name %s: %s", r.Line, m.what, named, m.field, r.Message)
			}
		}
	}
	for no, m := range hostile {
		if !slices.Contains(rejected, no) {
			f.fail("line %d (%s) was not rejected: %.300s", no, m.what, lines[no-1])
		}
	}
}

// params gives every parameter of op a valid-looking value.
func (f *fuzzer) params(op fuzzOp) map[string]string {
	out := map[string]string{}
	for _, ref := range op.params {
		p := ref.Value
		switch {
		case p.Name == "contactID":
			out[p.Name] = f.contactID
		case p.Name == "channelID":
			out[p.Name] = f.channelID
		case p.Name == "endpointID":
			out[p.Name] = f.endpointID
		case p.Name == "phone":
			out[p.Name] = fmt.Sprintf("+62857%08d", f.rng.IntN(f.unique+1))
		case p.In == openapi3.ParameterInQuery && f.rng.IntN(2) == 0:
			// optional parameters are left out half the time
		default:
			s := p.Schema.Value
			if s.Type.Is("array") {
				s = s.Items.Value
			}
			if len(s.Enum) > 0 {
				out[p.Name] = fmt.Sprint(s.Enum[f.rng.IntN(len(s.Enum))])
			} else if s.Type.Is("integer") {
				hi := 1000.0
				if s.Max != nil {
					hi = *s.Max
				}
				out[p.Name] = strconv.Itoa(int(*s.Min) + f.rng.IntN(int(hi-*s.Min)+1))
			} else if s.Format == "date-time" {
				out[p.Name] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			} else if p.Example != nil && p.Name != "cursor" {
				out[p.Name] = fmt.Sprint(p.Example)
			} else if p.Name != "cursor" {
				out[p.Name] = "vip"
			}
		}
	}
	return out
}

// hostileTexts are odd parameter values: wrong types, huge numbers, escapes, control characters.
var hostileTexts = []string{
	"abc", "-1", "0", "1.5", "1e400", "99999999999999999999", "", " ", "%00", "a%00b", "%ff", "%C0%80", "%ED%A0%80",
	"%zz", "..%2F..", "%2F", "é😀", "\u202e", "'; DROP TABLE contacts; --", "true", "null", "[]", "{}",
	"cnt_", "cnt_00000000000000000000000000", "ch_06BEWZPZ4NT3DDVP509YNTV5E0", "we_06H2ST3E2SW3S146H7PG6JQ140", "+", "0812-3456-7890", strings.Repeat("9", 5000),
}

// hostileParam picks a parameter of op and a hostile value for it.
func (f *fuzzer) hostileParam(op fuzzOp) (name, value string) {
	p := op.params[f.rng.IntN(len(op.params))].Value
	for {
		v := hostileTexts[f.rng.IntN(len(hostileTexts))]
		if _, err := url.PathUnescape(v); err != nil && p.In == openapi3.ParameterInPath {
			continue // Go's client cannot send a path with a broken escape
		}
		return p.Name, v
	}
}

// url writes op's path with params, and the parameter named hostile with value as written: its
// percent escapes are sent as they are, and only what a URL cannot hold is escaped. It says which
// parameters it made hostile: that one, and any query parameter it sent twice.
func (f *fuzzer) url(op fuzzOp, params map[string]string, hostile, value string) (string, []string) {
	var made []string
	if hostile != "" {
		made = append(made, hostile)
	}
	path := op.path
	var query []string
	for _, ref := range op.params {
		p := ref.Value
		v, ok := params[p.Name]
		escaped := url.PathEscape(v)
		if p.In == openapi3.ParameterInQuery {
			escaped = url.QueryEscape(v)
		}
		if p.Name == hostile {
			ok, escaped = true, escapeUnsendable(value)
		}
		if !ok {
			continue
		}
		switch p.In {
		case openapi3.ParameterInPath:
			path = strings.ReplaceAll(path, "{"+p.Name+"}", escaped)
		case openapi3.ParameterInQuery:
			query = append(query, url.QueryEscape(p.Name)+"="+escaped)
			if f.rng.IntN(20) == 0 {
				query = append(query, url.QueryEscape(p.Name)+"="+escaped) // twice
				made = append(made, p.Name)
			}
		}
	}
	if f.rng.IntN(10) == 0 {
		query = append(query, "unknown_param=1")
	}
	if len(query) > 0 {
		path += "?" + strings.Join(query, "&")
	}
	return path, made
}

// escapeUnsendable percent-escapes what a URL cannot hold as it is, and nothing else.
func escapeUnsendable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' || c == '?' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// jnode is a JSON value as the test writes it, so that it can write what encoding/json would not:
// lone surrogates, NUL, bytes that are not UTF-8.
type jnode struct {
	kind    byte // 'o' object, 'a' array, 's' string, 'r' raw text (a number, a literal, or anything)
	text    string
	members []jmember
	items   []*jnode
	schema  *openapi3.Schema // nil inside a free-form value
}

type jmember struct {
	key   string // as written between the quotes
	value *jnode
}

func (n *jnode) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *jnode) write(b *strings.Builder) {
	switch n.kind {
	case 'o':
		b.WriteByte('{')
		for i, m := range n.members {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(`"` + m.key + `": `)
			m.value.write(b)
		}
		b.WriteByte('}')
	case 'a':
		b.WriteByte('[')
		for i, item := range n.items {
			if i > 0 {
				b.WriteString(", ")
			}
			item.write(b)
		}
		b.WriteByte(']')
	case 's':
		b.WriteString(`"` + n.text + `"`)
	default:
		b.WriteString(n.text)
	}
}

func jstring(s string, schema *openapi3.Schema) *jnode {
	b, _ := json.Marshal(s)
	return &jnode{kind: 's', text: string(b[1 : len(b)-1]), schema: schema}
}

// value makes a valid-looking value of schema s: every required member and some optional ones,
// examples where the spec gives them, identifiers unique to the run so lines never conflict.
func (f *fuzzer) value(s *openapi3.Schema) *jnode {
	switch {
	case s.Type.Is("object") && freeForm(s):
		n := &jnode{kind: 'o', schema: s}
		if ex, ok := s.Example.(map[string]any); ok && f.rng.IntN(2) == 0 {
			for _, k := range slices.Sorted(maps.Keys(ex)) {
				n.members = append(n.members, jmember{key: k, value: jstring(fmt.Sprint(ex[k]), nil)})
			}
			return n
		}
		for i := range 1 + f.rng.IntN(3) {
			n.members = append(n.members, jmember{key: fmt.Sprintf("k%d", i), value: f.freeValue(2)})
		}
		return n
	case s.Type.Is("object"):
		n := &jnode{kind: 'o', schema: s}
		skipExternal := f.rng.IntN(3) == 0
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			switch {
			case name == "phone_number": // every contact needs an identifier
			case name == "external_source" || name == "external_id": // together or not at all
				if skipExternal {
					continue
				}
			case !slices.Contains(s.Required, name) && f.rng.IntN(3) == 0:
				continue
			}
			n.members = append(n.members, jmember{key: name, value: f.property(name, s.Properties[name].Value)})
		}
		return n
	case s.Type.Is("array"):
		n := &jnode{kind: 'a', schema: s}
		count := 1 + f.rng.IntN(3)
		if s.MinItems > uint64(count) {
			count = int(s.MinItems)
		}
		for range count {
			n.items = append(n.items, f.value(s.Items.Value))
		}
		return n
	case s.Type.Is("boolean"):
		return &jnode{kind: 'r', text: strconv.FormatBool(f.rng.IntN(2) == 0), schema: s}
	case s.Type.Is("integer"), s.Type.Is("number"):
		return &jnode{kind: 'r', text: strconv.Itoa(f.rng.IntN(100)), schema: s}
	case len(s.Enum) > 0:
		return jstring(fmt.Sprint(s.Enum[f.rng.IntN(len(s.Enum))]), s)
	case s.Format == "date-time":
		return jstring(time.Now().Add(time.Duration(f.rng.IntN(48)-24)*time.Hour).UTC().Format(time.RFC3339), s)
	case s.Example != nil:
		return jstring(fmt.Sprint(s.Example), s)
	}
	return jstring(fmt.Sprintf("text %d", f.rng.IntN(1000)), s)
}

// property makes the value of a named member, with identifiers unique to the run.
func (f *fuzzer) property(name string, s *openapi3.Schema) *jnode {
	switch name {
	case "phone_number":
		return jstring(fmt.Sprintf("+62857%08d", 50_000_000+f.next()), s)
	case "email":
		return jstring(fmt.Sprintf("u%d@example.com", f.next()), s)
	case "external_id":
		return jstring(fmt.Sprintf("c%d", f.next()), s)
	case "external_source":
		return jstring("shopify", s)
	}
	return f.value(s)
}

// freeValue makes a value of a free-form field: any JSON, levels deep at most.
func (f *fuzzer) freeValue(levels int) *jnode {
	switch r := f.rng.IntN(6); {
	case r == 0 && levels > 0:
		n := &jnode{kind: 'o'}
		for i := range f.rng.IntN(3) {
			n.members = append(n.members, jmember{key: fmt.Sprintf("f%d", i), value: f.freeValue(levels - 1)})
		}
		return n
	case r == 1 && levels > 0:
		n := &jnode{kind: 'a'}
		for range f.rng.IntN(3) {
			n.items = append(n.items, f.freeValue(levels-1))
		}
		return n
	case r == 2:
		return &jnode{kind: 'r', text: strconv.FormatFloat(f.rng.NormFloat64()*1e6, 'g', -1, 64)}
	case r == 3:
		return &jnode{kind: 'r', text: []string{"true", "false", "null"}[f.rng.IntN(3)]}
	}
	return jstring(fmt.Sprintf("v%d é😀", f.rng.IntN(100)), nil)
}

func freeForm(s *openapi3.Schema) bool {
	ap := s.AdditionalProperties
	return ap.Schema != nil || ap.Has != nil && *ap.Has
}

// A mutation is what was made hostile in a body, and how the answer must refuse it.
type mutation struct {
	what   string // "" for none
	text   string // the whole body, when it is not the tree's
	field  string // the field the refusal must name ("" for none)
	exact  bool   // only that field will do, not one holding it or held by it
	status int    // the status the refusal must have; 4 for any 4xx
}

// site is a place in a body a mutation can go: a value, and the member it is when it is one.
type site struct {
	path       string
	node       *jnode
	parent     *jnode // the object holding it, for members
	parentPath string
	member     int // its index in parent
}

// collect lists n, at path, and every value inside it.
func collect(n *jnode, path, whole string, out *[]site) {
	for i, m := range n.members {
		p := joinPath(path, m.key, whole)
		*out = append(*out, site{path: p, node: m.value, parent: n, parentPath: path, member: i})
		collect(m.value, p, whole, out)
	}
	for i, item := range n.items {
		p := fmt.Sprintf("%s[%d]", path, i)
		if path == whole {
			p = fmt.Sprintf("[%d]", i)
		}
		*out = append(*out, site{path: p, node: item})
		collect(item, p, whole, out)
	}
}

// joinPath is the path of member key of the object at path, as the server names fields.
func joinPath(path, key, whole string) string {
	if path == whole {
		return key
	}
	return path + "." + key
}

// The hostile escapes: lone surrogates high and low in both cases, pairs the wrong way round,
// a high one before a non-surrogate, and NUL.
var hostileEscapes = []string{`\udbff`, `\uD800`, `\udc00`, `\uDFFF`, `\ude00\ud83d`, `\ud83d\u0041`, `\ud83d`, `\u0000`}

// unstorableNumbers are numbers no field of the API can hold.
var unstorableNumbers = []string{"1e400", "-1e999", "1e-100000", "0e-99999", "4.9e-325", "1" + strings.Repeat("0", 1001), "1.0e+99999999999999999999"}

// mutate makes body hostile in one way, at random, and says how it must be refused; whole is the
// name the server gives the whole body ("body", or "line" for an import line).
func (f *fuzzer) mutate(body *jnode, whole string) mutation {
	all := []site{{path: whole, node: body}}
	collect(body, whole, whole, &all)
	pick := func(ok func(site) bool) (site, bool) {
		var fit []site
		for _, s := range all {
			if ok(s) {
				fit = append(fit, s)
			}
		}
		if len(fit) == 0 {
			return site{}, false
		}
		return fit[f.rng.IntN(len(fit))], true
	}
	for {
		switch f.rng.IntN(10) {
		case 0: // a hostile escape in a string value
			s, ok := pick(func(s site) bool { return s.node.kind == 's' })
			if !ok {
				continue
			}
			esc := hostileEscapes[f.rng.IntN(len(hostileEscapes))]
			s.node.text = insertAt(s.node.text, esc, f.rng)
			return mutation{what: "escape " + esc + " in " + s.path, field: s.path, exact: true, status: 4}
		case 1: // a hostile escape in a key
			s, ok := pick(func(s site) bool { return s.parent != nil })
			if !ok {
				continue
			}
			esc := hostileEscapes[f.rng.IntN(len(hostileEscapes))]
			m := &s.parent.members[s.member]
			m.key = insertAt(m.key, esc, f.rng)
			return mutation{what: "escape " + esc + " in the key of " + s.path, field: joinPath(s.parentPath, m.key, whole), exact: true, status: 4}
		case 2: // 10,000 levels, preferably in a free-form value
			s, ok := pick(func(s site) bool { return s.path != whole && (s.node.schema == nil || f.rng.IntN(4) == 0) })
			if !ok {
				continue
			}
			text, inner := deep(10_000, f.rng)
			*s.node = jnode{kind: 'r', text: text}
			return mutation{what: "10,000 levels at " + s.path, field: firstSteps(s.path+inner, 2), exact: true, status: 422}
		case 3: // nesting past custom fields' bound, below the body's
			s, ok := pick(func(s site) bool { return s.node.schema == nil && strings.HasPrefix(s.path, "custom_fields.") })
			if !ok {
				continue
			}
			text, _ := deep(17+f.rng.IntN(40), f.rng)
			*s.node = jnode{kind: 'r', text: text}
			return mutation{what: "deep custom field at " + s.path, field: firstSteps(s.path, 2), exact: true, status: 422}
		case 4: // an unknown member where the schema has none
			s, ok := pick(func(s site) bool {
				return s.node.kind == 'o' && s.node.schema != nil && !freeForm(s.node.schema)
			})
			if !ok {
				continue
			}
			name := fmt.Sprintf("x_%d", f.rng.IntN(1000))
			s.node.members = append(s.node.members, jmember{key: name, value: f.freeValue(1)})
			return mutation{what: "unknown member " + name + " at " + s.path, field: joinPath(s.path, name, whole), exact: true, status: 400}
		case 5: // the wrong JSON type
			s, ok := pick(func(s site) bool { return s.node.schema != nil && s.path != whole })
			if !ok {
				continue
			}
			wrong := wrongType(s.node.schema, f.rng)
			*s.node = jnode{kind: 'r', text: wrong}
			return mutation{what: "wrong type " + wrong + " at " + s.path, field: s.path, status: 4}
		case 6: // a number nothing can hold
			s, ok := pick(func(s site) bool { return s.path != whole })
			if !ok {
				continue
			}
			n := unstorableNumbers[f.rng.IntN(len(unstorableNumbers))]
			*s.node = jnode{kind: 'r', text: n}
			return mutation{what: "number " + n[:min(len(n), 20)] + " at " + s.path, field: s.path, status: 4}
		case 7: // not an object
			v := []string{`[]`, `[1, 2]`, `"x"`, `42`, `true`, `[{}]`}[f.rng.IntN(6)]
			return mutation{what: "a body of " + v, text: v, field: whole, exact: true, status: 400}
		case 8: // cut short
			text := body.String()
			cut := 1 + f.rng.IntN(len(text)-1)
			return mutation{what: fmt.Sprintf("cut at %d of %d", cut, len(text)), text: text[:cut], status: 400}
		case 9: // not UTF-8
			s, ok := pick(func(s site) bool { return s.node.kind == 's' })
			if !ok {
				continue
			}
			s.node.text = insertAt(s.node.text, []string{"\xff", "\xc0\x80", "\xed\xa0\x80"}[f.rng.IntN(3)], f.rng)
			return mutation{what: "bytes that are not UTF-8 in " + s.path, status: 400}
		}
	}
}

// insertAt puts ins into a string's text as written, between two characters or escapes.
func insertAt(text, ins string, rng *rand.Rand) string {
	bounds := []int{0}
	for i := 0; i < len(text); {
		switch {
		case text[i] == '\\' && i+1 < len(text) && text[i+1] == 'u':
			i += 6
		case text[i] == '\\':
			i += 2
		default:
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
		}
		bounds = append(bounds, min(i, len(text)))
	}
	at := bounds[rng.IntN(len(bounds))]
	return text[:at] + ins + text[at:]
}

// firstSteps is a path cut to its first n steps, as the server names a value nested too deep.
func firstSteps(path string, n int) string {
	steps := 0
	for i := 0; i < len(path); i++ {
		if (path[i] == '.' || path[i] == '[') && i > 0 {
			if steps++; steps == n {
				return path[:i]
			}
		}
	}
	return path
}

// deep is a value nesting levels deep, arrays and objects mixed, and the first step into it.
func deep(levels int, rng *rand.Rand) (text, first string) {
	var open, close strings.Builder
	for range levels {
		if rng.IntN(2) == 0 {
			open.WriteString("[")
			close.WriteString("]")
		} else {
			open.WriteString(`{"a": `)
			close.WriteString("}")
		}
	}
	closing := []byte(close.String())
	slices.Reverse(closing)
	first = ".a"
	if open.String()[0] == '[' {
		first = "[0]"
	}
	return open.String() + "1" + string(closing), first
}

// wrongType is a JSON value of another type than schema s declares.
func wrongType(s *openapi3.Schema, rng *rand.Rand) string {
	var choices []string
	switch {
	case s.Type.Is("object"):
		choices = []string{`"x"`, `1`, `[]`, `true`, `[{"a": 1}]`}
	case s.Type.Is("array"):
		choices = []string{`"x"`, `1`, `{}`, `false`}
	case s.Type.Is("boolean"):
		choices = []string{`"true"`, `1`, `[]`, `{}`}
	case s.Type.Is("integer"), s.Type.Is("number"):
		choices = []string{`"1"`, `true`, `[1]`, `{}`}
	default:
		choices = []string{`1`, `-1.5e3`, `true`, `[]`, `["a"]`, `{}`, `{"a": "b"}`}
	}
	return choices[rng.IntN(len(choices))]
}

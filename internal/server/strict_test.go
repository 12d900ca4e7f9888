package server_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/contact"
	"github.com/wazapin/wazapin/internal/server"
)

// goWords are what a problem must never show a client: Go's types and the words of its errors.
var goWords = regexp.MustCompile(`api\.[A-Z]|\[\]string|\bu?int(8|16|32|64)?\b|float(32|64)|Go value|Go struct|strconv|[Uu]nmarshal|json: |reflect|runtime error`)

// noGoWords fails the test when a problem speaks Go instead of the API's language.
func noGoWords(t *testing.T, body []byte) {
	t.Helper()
	if w := goWords.Find(body); w != nil {
		t.Errorf("the answer speaks Go (%q): %s", w, body)
	}
}

func TestUnknownMembersAreRefused(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("POST", "/v1/contacts", []byte(`{"phone_number": "+6285711111111", "nmae": "Typo"}`))
	wantStatus(t, status, 400, body)
	p := problem(t, 400, body)
	if f := fields(p); !slices.Equal(f, []string{"nmae"}) {
		t.Errorf("fields %v, want [nmae]", f)
	}
	if !strings.Contains(*p.Detail, "nmae") || !strings.Contains(*p.Detail, "name") {
		t.Errorf("the detail neither names the member nor says what is known: %s", *p.Detail)
	}
	noGoWords(t, body)
	if n := e.count("contacts"); n != 0 {
		t.Errorf("%d contacts created", n)
	}

	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6285711111111")})
	for _, tc := range []struct{ method, path, body, field string }{
		{"PATCH", "/v1/contacts/" + c.Id, `{"nmae": "x"}`, "nmae"},
		{"POST", "/v1/contacts/resolve", `{"identifiers": [{"type": "phone", "value": "+6285711111111"}, {"type": "external_id", "value": "1", "sourse": "x"}]}`, "identifiers[1].sourse"},
		{"POST", "/v1/contacts/" + c.Id + "/notes", `{"body": "hi", "author": "me"}`, "author"},
		{"POST", "/v1/contacts/" + c.Id + "/tags", `{"name": "vip", "colour": "red"}`, "colour"},
		{"PUT", "/v1/contacts/" + c.Id + "/consent/sms", `{"status": "opted_in", "channel": "sms"}`, "channel"},
		{"POST", "/v1/contacts/" + c.Id + "/suppressions", `{"channel": "sms", "reason": "manual", "until": "2030-01-01T00:00:00Z"}`, "until"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			status, body := e.do(tc.method, tc.path, []byte(tc.body))
			wantStatus(t, status, 400, body)
			if f := fields(problem(t, 400, body)); !slices.Equal(f, []string{tc.field}) {
				t.Errorf("fields %v, want [%s]", f, tc.field)
			}
		})
	}
	if got := e.get(c.Id); got.Name.IsSpecified() && !got.Name.IsNull() {
		t.Errorf("a refused patch changed the name: %+v", got.Name)
	}
	// custom_fields is free-form: any member is a field of the contact's.
	e.ok(e.do("POST", "/v1/contacts", []byte(`{"phone_number": "+6285711111111", "custom_fields": {"nmae": 1}}`)))
}

func TestLoneSurrogatesAndNULAreRefusedByField(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6285700000000")})
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "custom_fields": {"a": "\udbff"}}`, "custom_fields.a"},
		{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "custom_fields": {"a": {"b": [1, 2, "x\uDC00"]}}}`, "custom_fields.a.b[2]"},
		{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "custom_fields": {"a": "\ud83d\ud83d\ude00"}}`, "custom_fields.a"},
		{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "custom_fields": {"k\udbffey": 1}}`, `custom_fields.k\udbffey`},
		{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "custom_fields": {"a": "b\u0000"}}`, "custom_fields.a"},
		{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "name": "a\u0000b"}`, "name"},
		{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "name": "\udbff"}`, "name"},
		{"PATCH", "/v1/contacts/" + c.Id, `{"custom_fields": {"a": "\udbff"}}`, "custom_fields.a"},
		{"POST", "/v1/contacts/" + c.Id + "/notes", `{"body": "\ude00"}`, "body"},
		{"POST", "/v1/contacts/resolve", `{"identifiers": [{"type": "email", "value": "a\u0000@example.com"}]}`, "identifiers[0].value"},
		{"POST", "/v1/channels", `{"name": "x", "platform": "whatsapp_gateway", "credentials": {"api_key": "\udbff"}}`, "credentials.api_key"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			status, body := e.do(tc.method, tc.path, []byte(tc.body))
			if status != 400 && status != 422 {
				t.Fatalf("status %d, want 400 or 422: %s", status, body)
			}
			if f := fields(problem(t, status, body)); !slices.Equal(f, []string{tc.field}) {
				t.Errorf("fields %v, want [%s]", f, tc.field)
			}
			noGoWords(t, body)
		})
	}
	if n := e.count("contacts"); n != 1 {
		t.Errorf("%d contacts, want the one made first", n)
	}
	t.Run("pairs and escaped backslashes are text", func(t *testing.T) {
		status, body := e.do("POST", "/v1/contacts", []byte(`{"phone_number": "+6285722222222", "name": "\ud83d\ude00 \\udbff", "custom_fields": {"\ud83d\ude00": "C:\\udbff\\u0000"}}`))
		wantStatus(t, status, 201, body)
		if !strings.Contains(string(body), `"😀":"C:\\udbff\\u0000"`) || !strings.Contains(string(body), `"name":"😀 \\udbff"`) {
			t.Errorf("text altered: %s", body)
		}
	})
}

func TestImportRejectsOnlyTheHostileLines(t *testing.T) {
	e := newEnv(t)
	res := e.importNDJSON(
		`{"phone_number": "+6285711111111", "name": "One"}`,
		`{"phone_number": "+6285711111112", "custom_fields": {"a": "\udbff"}}`,
		`{"phone_number": "+6285711111113", "nmae": "Typo"}`,
		`{"phone_number": "+6285711111114", "custom_fields": {"deep": `+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}}`,
		`{"phone_number": "+6285711111115", "custom_fields": {"n": 1e-100000}}`,
		`[]`,
		`{"phone_number": "+6285711111116", "custom_fields": {"a\u0000": 1}}`,
		`{"phone_number": "+6285711111117", "name": "Seven"}`,
	)
	if res.Created != 2 || res.Invalid != 6 {
		t.Errorf("counts %+v, want 2 created and 6 invalid", res)
	}
	want := map[int]string{2: "custom_fields.a", 3: "nmae", 4: "custom_fields.deep", 5: "custom_fields.n", 6: "line", 7: `custom_fields.a\u0000`}
	for _, r := range res.Rejected {
		if r.Reason != api.ImportRejectionReasonInvalid || r.Errors == nil || len(*r.Errors) != 1 || (*r.Errors)[0].Field != want[r.Line] {
			t.Errorf("line %d: %+v, want invalid naming %q", r.Line, r, want[r.Line])
		}
		if goWords.MatchString(r.Message) {
			t.Errorf("line %d: the message speaks Go: %s", r.Line, r.Message)
		}
	}
	for _, phone := range []string{"+6285711111111", "+6285711111117"} {
		status, body := e.do("GET", "/v1/contacts/phone/"+phone, nil)
		wantStatus(t, status, 200, body)
	}
}

func TestDeepCustomFieldsAreRefused(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6285711111111")})
	nest := func(levels int) string { return strings.Repeat("[", levels) + "1" + strings.Repeat("]", levels) }
	for _, levels := range []int{contact.MaxCustomDepth + 1, 60, 10_000} {
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/contacts", `{"phone_number": "+6285711111111", "custom_fields": {"ok": 1, "deep": ` + nest(levels) + `}}`},
			{"PATCH", "/v1/contacts/" + c.Id, `{"custom_fields": {"deep": {"a": ` + nest(levels-1) + `}}}`},
		} {
			t.Run(fmt.Sprintf("%s %d levels", req.method, levels), func(t *testing.T) {
				status, body := e.do(req.method, req.path, []byte(req.body))
				wantStatus(t, status, 422, body)
				if f := fields(problem(t, 422, body)); !slices.Equal(f, []string{"custom_fields.deep"}) {
					t.Errorf("fields %v, want [custom_fields.deep]", f)
				}
			})
		}
	}
	e.ok(e.do("POST", "/v1/contacts", []byte(`{"phone_number": "+6285711111111", "custom_fields": {"deep": `+nest(contact.MaxCustomDepth)+`}}`)))
	if got := string(e.get(c.Id).CustomFields); got != `{"deep":`+nest(contact.MaxCustomDepth)+`}` {
		t.Errorf("custom fields %s", got)
	}
	t.Run("any body nests at most 64 levels", func(t *testing.T) {
		status, body := e.do("POST", "/v1/contacts/resolve", []byte(`{"identifiers": [`+nest(100)+`]}`))
		wantStatus(t, status, 422, body)
		if f := fields(problem(t, 422, body)); !slices.Equal(f, []string{"identifiers[0]"}) {
			t.Errorf("fields %v, want [identifiers[0]]", f)
		}
	})
}

func TestProblemsSpeakTheAPIsLanguage(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6285711111111")})
	for _, tc := range []struct {
		method, path, body string
		status             int
		field, detail      string
	}{
		{"GET", "/v1/contacts?limit=abc", "", 400, "limit", "limit must be an integer from 1 to 200"},
		{"GET", "/v1/contacts?limit=1.5", "", 400, "limit", "limit must be an integer from 1 to 200"},
		{"GET", "/v1/contacts?limit=99999999999999999999", "", 400, "limit", "limit must be an integer from 1 to 200"},
		{"GET", "/v1/contacts?limit=1&limit=2", "", 400, "limit", "limit must be given once"},
		{"GET", "/v1/contacts/" + c.Id + "/notes?limit=x", "", 400, "limit", "limit must be an integer from 1 to 200"},
		{"GET", "/v1/contacts?updated_since=yesterday", "", 400, "updated_since", "updated_since must be a date-time"},
		{"POST", "/v1/contacts", `[]`, 400, "body", "the body must be a JSON object"},
		{"POST", "/v1/contacts", `"x"`, 400, "body", "the body must be a JSON object"},
		{"POST", "/v1/contacts", `{"name": ["a"], "phone_number": 62}`, 400, "name", "name must be a JSON string"},
		{"POST", "/v1/contacts/resolve", `{"identifiers": [{"type": "phone", "value": "1"}, {"type": 2, "value": "1"}]}`, 400, "identifiers[1].type", "identifiers[1].type must be a JSON string"},
		{"PUT", "/v1/contacts/" + c.Id + "/consent/sms", `{"status": "opted_in", "captured_at": "yesterday"}`, 400, "captured_at", "captured_at must be a date-time"},
		{"POST", "/v1/channels/ch_06BEWZPZ4NT3DDVP509YNTV5E0/contacts/lookup", `{"phone_numbers": ["1"], "link": "yes"}`, 400, "link", "link must be true or false"},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			status, b := e.do(tc.method, tc.path, body)
			wantStatus(t, status, tc.status, b)
			p := problem(t, tc.status, b)
			if f := fields(p); len(f) == 0 || f[0] != tc.field {
				t.Errorf("fields %v, want %s first", f, tc.field)
			}
			if p.Detail == nil || !strings.HasPrefix(*p.Detail, tc.detail) {
				t.Errorf("detail %q, want it to start %q", *p.Detail, tc.detail)
			}
			noGoWords(t, b)
		})
	}
}

// TestDecodeJSON holds the strict decoder to its contract on its own, including what it lets
// through.
func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		body   string
		code   apperr.Code // -1: accepted
		fields []string
	}{
		{`{"phone_number": "+62", "custom_fields": {"a": [1, {"b": "\u00e9\ud83d\ude00\\udbff"}]}}`, -1, nil},
		{` {"name": "a"} ` + "\n", -1, nil},
		{`{"NAME": "a"}`, -1, nil}, // encoding/json matches members ignoring case
		{`{"custom_fields": {"a": "\uD800\uDC00"}}`, -1, nil},
		{`{"custom_fields": {"a": "\uD800\u0041"}}`, apperr.Invalid, []string{"custom_fields.a"}},
		{`{"custom_fields": {"a": "\uDFFF\uD800"}}`, apperr.Invalid, []string{"custom_fields.a"}},
		{`{"custom_fields": {"a": "\uD800"}}`, apperr.Invalid, []string{"custom_fields.a"}},
		{`{"custom_fields": {"x\u00e9": {"\u0000": 1}}}`, apperr.Invalid, []string{`custom_fields.xé.\u0000`}},
		{`{"custom_fields": {"a": [[` + strings.Repeat("[", 70) + `]]}}`, apperr.Invalid, []string{"custom_fields.a"}},
		{`{"custom_fields": ` + strings.Repeat(`{"a": `, 70), apperr.Invalid, []string{"custom_fields.a"}},
		{strings.Repeat("[", 100), apperr.Invalid, []string{"[0][0]"}},
		{`{"name": "a", "name": 1}`, apperr.BadRequest, []string{"name"}},
		{`{"name": "a"} {}`, apperr.BadRequest, nil},
		{`{"name": "a\u0000` /* cut short */, apperr.Invalid, []string{"name"}},
		{`{"name": "a"`, apperr.BadRequest, nil},
		{"{\"name\": \"\xff\"}", apperr.BadRequest, nil},
		{"", apperr.BadRequest, nil},
		{`{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10, "k": 11, "l": 12, "m": 13, "n": 14, "o": 15, "p": 16, "q": 17, "r": 18, "s": 19, "t": 20, "u": 21, "v": 22}`,
			apperr.BadRequest, strings.Split("a b c d e f g h i j k l m n o p q r s t", " ")},
	} {
		var v api.ContactCreate
		err := server.DecodeJSON([]byte(tc.body), &v, "body")
		var e *apperr.Error
		switch {
		case tc.code < 0 && err != nil:
			t.Errorf("%.60s: refused: %v", tc.body, err)
		case tc.code < 0:
		case !errors.As(err, &e) || e.Code != tc.code:
			t.Errorf("%.60s: %#v, want code %d", tc.body, err, tc.code)
		default:
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("%.60s: fields %v, want %v", tc.body, got, tc.fields)
			}
			if goWords.MatchString(e.Message) {
				t.Errorf("%.60s: speaks Go: %s", tc.body, e.Message)
			}
		}
	}
}

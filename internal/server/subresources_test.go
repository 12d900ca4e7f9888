package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/gen/api"
)

func TestIdentities(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("081234567890"), Email: ptr("Ujang@Example.com"),
		ExternalSource: ptr("shopify"), ExternalId: ptr("cust_123")})
	e.ok(e.do("POST", "/v1/contacts", []byte(`{"email": "ujang@example.com", "external_source": "hubspot", "external_id": "h-9"}`)))
	res, _ := e.c.ListContactIdentitiesWithResponse(bg, c.Id)
	wantStatus(t, res.StatusCode(), 200, res.Body)
	var got []string
	for _, i := range res.JSON200.Data {
		s := string(i.Type) + ":" + i.Value
		if i.Source != nil {
			s = string(i.Type) + ":" + *i.Source + ":" + i.Value
		}
		got = append(got, s)
	}
	want := []string{"email:ujang@example.com", "external_id:hubspot:h-9", "external_id:shopify:cust_123", "phone:+6281234567890"}
	if !slices.Equal(sorted(got), want) {
		t.Errorf("identities %v, want %v", got, want)
	}
}

func TestNotes(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	var made []string
	for i := range 7 {
		res, err := e.c.CreateContactNoteWithResponse(bg, c.Id, nil, api.NoteCreate{Body: fmt.Sprintf("note %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), 201, res.Body)
		n := res.JSON201.Data
		if !strings.HasPrefix(n.Id, "note_") || n.ContactId != c.Id || n.Body != fmt.Sprintf("note %d", i) {
			t.Errorf("note %+v", n)
		}
		made = append(made, n.Id)
	}
	t.Run("listed newest first across pages", func(t *testing.T) {
		var got []string
		var cursor *string
		for {
			res, _ := e.c.ListContactNotesWithResponse(bg, c.Id, &api.ListContactNotesParams{Limit: ptr(3), Cursor: cursor})
			wantStatus(t, res.StatusCode(), 200, res.Body)
			for _, n := range res.JSON200.Data {
				got = append(got, n.Id)
			}
			if res.JSON200.Meta.NextCursor.IsNull() {
				break
			}
			cursor = ptr(res.JSON200.Meta.NextCursor.MustGet())
		}
		want := slices.Clone(made)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Errorf("notes %v, want %v", got, want)
		}
	})
	for name, body := range map[string]string{
		"empty":    `{"body": ""}`,
		"blank":    `{"body": "  \n\t"}`,
		"missing":  `{}`,
		"too long": `{"body": "` + strings.Repeat("x", 10001) + `"}`,
	} {
		t.Run("rejects "+name, func(t *testing.T) {
			status, b := e.do("POST", "/v1/contacts/"+c.Id+"/notes", []byte(body))
			wantStatus(t, status, 422, b)
			if f := fields(problem(t, 422, b)); !slices.Equal(f, []string{"body"}) {
				t.Errorf("fields %v", f)
			}
		})
	}
	t.Run("unknown contact", func(t *testing.T) {
		res, _ := e.c.CreateContactNoteWithResponse(bg, "cnt_06H1HWXJT9Y619F5GCJ4072F68", nil, api.NoteCreate{Body: "x"})
		wantStatus(t, res.StatusCode(), 404, res.Body)
	})
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	d := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567891")})
	assign := func(id, name string) (int, api.Tag) {
		t.Helper()
		res, err := e.c.AssignContactTagWithResponse(bg, id, nil, api.TagAssign{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		switch res.StatusCode() {
		case 201:
			return 201, res.JSON201.Data
		case 200:
			return 200, res.JSON200.Data
		}
		t.Fatalf("assign %q: %d %s", name, res.StatusCode(), res.Body)
		return 0, api.Tag{}
	}
	status, vip := assign(c.Id, "VIP")
	if status != 201 || vip.Name != "VIP" || !strings.HasPrefix(vip.Id, "tag_") {
		t.Fatalf("first assignment: %d %+v", status, vip)
	}
	status, again := assign(c.Id, " vip ")
	if status != 200 || again.Id != vip.Id || again.Name != "VIP" || !again.AssignedAt.Equal(vip.AssignedAt) {
		t.Errorf("second assignment: %d %+v, want 200 with the same tag", status, again)
	}
	if status, onD := assign(d.Id, "vip"); status != 201 || onD.Id != vip.Id {
		t.Errorf("the workspace tag was not reused: %d %+v", status, onD)
	}
	assign(c.Id, "lead")
	res, _ := e.c.ListContactTagsWithResponse(bg, c.Id)
	wantStatus(t, res.StatusCode(), 200, res.Body)
	var names []string
	for _, tag := range res.JSON200.Data {
		names = append(names, tag.Name)
	}
	if !slices.Equal(names, []string{"lead", "VIP"}) {
		t.Errorf("tags %v, want [lead VIP] each once", names)
	}
	t.Run("filter the list by tag", func(t *testing.T) {
		list, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Tag: ptr("Vip")})
		if got := contactIDsOf(list.JSON200.Data); !slices.Equal(sorted(got), sorted([]string{c.Id, d.Id})) {
			t.Errorf("tagged contacts %v", got)
		}
	})
	t.Run("unassign", func(t *testing.T) {
		del, _ := e.c.UnassignContactTagWithResponse(bg, c.Id, "vip")
		wantStatus(t, del.StatusCode(), 204, del.Body)
		del, _ = e.c.UnassignContactTagWithResponse(bg, c.Id, "vip")
		wantStatus(t, del.StatusCode(), 204, del.Body)
		res, _ := e.c.ListContactTagsWithResponse(bg, c.Id)
		if len(res.JSON200.Data) != 1 || res.JSON200.Data[0].Name != "lead" {
			t.Errorf("tags after unassign: %+v", res.JSON200.Data)
		}
		res, _ = e.c.ListContactTagsWithResponse(bg, d.Id)
		if len(res.JSON200.Data) != 1 {
			t.Errorf("unassigning from one contact touched another: %+v", res.JSON200.Data)
		}
	})
	for name, body := range map[string]string{"empty": `{"name": ""}`, "missing": `{}`, "too long": `{"name": "` + strings.Repeat("t", 65) + `"}`, "slash": `{"name": "a/b"}`} {
		t.Run("rejects "+name, func(t *testing.T) {
			status, b := e.do("POST", "/v1/contacts/"+c.Id+"/tags", []byte(body))
			wantStatus(t, status, 422, b)
			if f := fields(problem(t, 422, b)); !slices.Equal(f, []string{"name"}) {
				t.Errorf("fields %v", f)
			}
		})
	}
}

func contactIDsOf(cs []api.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Id
	}
	return out
}

func TestConsent(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	captured := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res, _ := e.c.PutContactConsentWithResponse(bg, c.Id, api.MessagingChannelWhatsapp, api.ConsentPut{Status: api.ConsentStatusOptedIn, Source: ptr("checkout form"), CapturedAt: &captured})
	wantStatus(t, res.StatusCode(), 201, res.Body)
	if got := res.JSON201.Data; got.Channel != api.MessagingChannelWhatsapp || got.Status != api.ConsentStatusOptedIn || got.Source.MustGet() != "checkout form" || !got.CapturedAt.Equal(captured) {
		t.Errorf("consent %+v", got)
	}
	res, _ = e.c.PutContactConsentWithResponse(bg, c.Id, api.MessagingChannelWhatsapp, api.ConsentPut{Status: api.ConsentStatusOptedOut})
	wantStatus(t, res.StatusCode(), 200, res.Body)
	if got := res.JSON200.Data; got.Status != api.ConsentStatusOptedOut || !got.Source.IsNull() || time.Since(got.CapturedAt) > time.Minute {
		t.Errorf("replaced consent %+v", got)
	}
	res, _ = e.c.PutContactConsentWithResponse(bg, c.Id, api.MessagingChannelEmail, api.ConsentPut{Status: api.ConsentStatusOptedIn})
	wantStatus(t, res.StatusCode(), 201, res.Body)
	list, _ := e.c.ListContactConsentsWithResponse(bg, c.Id)
	wantStatus(t, list.StatusCode(), 200, list.Body)
	if d := list.JSON200.Data; len(d) != 2 || d[0].Channel != api.MessagingChannelEmail || d[1].Channel != api.MessagingChannelWhatsapp || d[1].Status != api.ConsentStatusOptedOut {
		t.Errorf("consents %+v, want one row per channel", d)
	}
	for _, tc := range []struct{ name, channel, body, field string }{
		{"bad status", "whatsapp", `{"status": "maybe"}`, "status"},
		{"missing status", "whatsapp", `{}`, "status"},
		{"unknown channel", "pigeon", `{"status": "opted_in"}`, "channel"},
		{"future capture", "sms", `{"status": "opted_in", "captured_at": "2999-01-01T00:00:00Z"}`, "captured_at"},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			status, b := e.do("PUT", "/v1/contacts/"+c.Id+"/consent/"+tc.channel, []byte(tc.body))
			wantStatus(t, status, 422, b)
			if f := fields(problem(t, 422, b)); !slices.Equal(f, []string{tc.field}) {
				t.Errorf("fields %v", f)
			}
		})
	}
	t.Run("bad captured_at format", func(t *testing.T) {
		status, b := e.do("PUT", "/v1/contacts/"+c.Id+"/consent/sms", []byte(`{"status": "opted_in", "captured_at": "yesterday"}`))
		wantStatus(t, status, 400, b)
	})
}

func TestSuppressions(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	res, _ := e.c.UpsertContactSuppressionWithResponse(bg, c.Id, nil, api.SuppressionCreate{Channel: api.MessagingChannelSms, Reason: api.SuppressionReasonUnsubscribed})
	wantStatus(t, res.StatusCode(), 201, res.Body)
	if got := res.JSON201.Data; got.Reason != api.SuppressionReasonUnsubscribed || !got.ExpiresAt.IsNull() || !got.Active {
		t.Errorf("suppression %+v", got)
	}
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	res, _ = e.c.UpsertContactSuppressionWithResponse(bg, c.Id, nil, api.SuppressionCreate{Channel: api.MessagingChannelSms, Reason: api.SuppressionReasonBounced, ExpiresAt: &until})
	wantStatus(t, res.StatusCode(), 200, res.Body)
	if got := res.JSON200.Data; got.Reason != api.SuppressionReasonBounced || !got.ExpiresAt.MustGet().Equal(until) {
		t.Errorf("updated suppression %+v", got)
	}
	// An expired suppression is listed as inactive.
	if _, err := e.pool.Exec(bg, "UPDATE suppressions SET expires_at = now() - interval '1 hour'"); err != nil {
		t.Fatal(err)
	}
	e.ok(e.do("POST", "/v1/contacts/"+c.Id+"/suppressions", []byte(`{"channel": "whatsapp", "reason": "blocked"}`)))
	list, _ := e.c.ListContactSuppressionsWithResponse(bg, c.Id)
	wantStatus(t, list.StatusCode(), 200, list.Body)
	if d := list.JSON200.Data; len(d) != 2 || d[0].Channel != api.MessagingChannelSms || d[0].Active || d[1].Channel != api.MessagingChannelWhatsapp || !d[1].Active {
		t.Errorf("suppressions %+v", d)
	}
	for _, tc := range []struct {
		name, body string
		fields     []string
	}{
		{"bad reason", `{"channel": "sms", "reason": "annoyed"}`, []string{"reason"}},
		{"bad channel", `{"channel": "fax", "reason": "manual"}`, []string{"channel"}},
		{"missing both", `{}`, []string{"channel", "reason"}},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			status, b := e.do("POST", "/v1/contacts/"+c.Id+"/suppressions", []byte(tc.body))
			wantStatus(t, status, 422, b)
			if f := fields(problem(t, 422, b)); !slices.Equal(f, tc.fields) {
				t.Errorf("fields %v, want %v", f, tc.fields)
			}
		})
	}
}

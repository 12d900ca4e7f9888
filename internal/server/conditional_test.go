package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/etag"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/provider/providertest"
)

// TestConditionalRequests pins ETag, If-None-Match and If-Match on a contact: the tag follows the
// contact's JSON, a GET of the version held answers 304, and a write naming a version the contact
// no longer is answers 412 and changes nothing.
func TestConditionalRequests(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{Name: ptr("Ujang"), Email: ptr("ujang@example.com")})
	tagOf := func(id string) string {
		t.Helper()
		res, _ := e.c.GetContactWithResponse(bg, id, nil)
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		tag := res.HTTPResponse.Header.Get("ETag")
		if len(tag) < 3 || tag[0] != '"' {
			t.Fatalf("ETag %q", tag)
		}
		return tag
	}
	v1 := tagOf(c.Id)
	if again := tagOf(c.Id); again != v1 {
		t.Fatalf("the ETag moved without a change: %s then %s", v1, again)
	}

	t.Run("If-None-Match of the version held answers 304, of another 200", func(t *testing.T) {
		res, _ := e.c.GetContactWithResponse(bg, c.Id, &api.GetContactParams{IfNoneMatch: ptr(`"old", ` + v1)})
		wantStatus(t, res.StatusCode(), http.StatusNotModified, res.Body)
		if len(res.Body) != 0 || res.HTTPResponse.Header.Get("ETag") != v1 {
			t.Errorf("304 with body %q and ETag %q", res.Body, res.HTTPResponse.Header.Get("ETag"))
		}
		res, _ = e.c.GetContactWithResponse(bg, c.Id, &api.GetContactParams{IfNoneMatch: ptr(`"old"`)})
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
	})

	t.Run("two clients read the same version and both write with it: one wins, one gets 412", func(t *testing.T) {
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, name := range []string{"Ujang A", "Ujang B"} {
			wg.Go(func() {
				res, err := e.c.UpdateContactWithBodyWithResponse(bg, c.Id, &api.UpdateContactParams{IfMatch: ptr(v1)}, "application/json",
					strings.NewReader(`{"name":"`+name+`","custom_fields":{"by":"`+name+`"}}`))
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.StatusCode()
			})
		}
		wg.Wait()
		ok, failed := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusPreconditionFailed:
				failed++
			}
		}
		if ok != 1 || failed != 1 {
			t.Fatalf("statuses %v, want one 200 and one 412", statuses)
		}
		got := e.get(c.Id)
		if name := got.Name.MustGet(); !strings.Contains(string(got.CustomFields), name) {
			t.Errorf("the winner's change is not whole: name %q, custom_fields %s", name, got.CustomFields)
		}
		if tagOf(c.Id) == v1 {
			t.Error("the ETag did not change with the contact")
		}
	})

	t.Run("a stale If-Match refuses PATCH and DELETE and changes nothing", func(t *testing.T) {
		before := e.get(c.Id)
		res, _ := e.c.UpdateContactWithBodyWithResponse(bg, c.Id, &api.UpdateContactParams{IfMatch: ptr(v1)}, "application/json", strings.NewReader(`{"name":"Stale"}`))
		wantStatus(t, res.StatusCode(), http.StatusPreconditionFailed, res.Body)
		problem(t, http.StatusPreconditionFailed, res.Body)
		del, _ := e.c.DeleteContactWithResponse(bg, c.Id, &api.DeleteContactParams{IfMatch: ptr(v1)})
		wantStatus(t, del.StatusCode(), http.StatusPreconditionFailed, del.Body)
		if after := e.get(c.Id); !jsonEqual(after, before) {
			t.Errorf("changed: %+v, was %+v", after, before)
		}
	})

	t.Run("the current version, or *, lets the write through", func(t *testing.T) {
		cur := tagOf(c.Id)
		res, _ := e.c.UpdateContactWithBodyWithResponse(bg, c.Id, &api.UpdateContactParams{IfMatch: ptr(`"x", ` + cur)}, "application/json", strings.NewReader(`{"name":"Ujang S"}`))
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		if tag := res.HTTPResponse.Header.Get("ETag"); tag != tagOf(c.Id) {
			t.Errorf("PATCH answered ETag %s, GET %s", tag, tagOf(c.Id))
		}
		del, _ := e.c.DeleteContactWithResponse(bg, c.Id, &api.DeleteContactParams{IfMatch: ptr("*")})
		wantStatus(t, del.StatusCode(), http.StatusNoContent, del.Body)
	})

	t.Run("If-Match on a contact that does not exist is 412, without it 404", func(t *testing.T) {
		res, _ := e.c.UpdateContactWithBodyWithResponse(bg, c.Id, &api.UpdateContactParams{IfMatch: ptr("*")}, "application/json", strings.NewReader(`{"name":"Ghost"}`))
		wantStatus(t, res.StatusCode(), http.StatusPreconditionFailed, res.Body)
		del, _ := e.c.DeleteContactWithResponse(bg, c.Id, nil)
		wantStatus(t, del.StatusCode(), http.StatusNotFound, del.Body)
	})
}

// tagged reads an answer's ETag, insists it is a strong tag, and returns it with the JSON of the
// answer's data.
func tagged(t *testing.T, res *http.Response, body []byte) (string, json.RawMessage) {
	t.Helper()
	tag := res.Header.Get("ETag")
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		t.Fatalf("ETag %q", tag)
	}
	var answer struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || len(answer.Data) == 0 {
		t.Fatalf("no data in %s (%v)", body, err)
	}
	return tag, answer.Data
}

// ifNoneMatchCases are If-None-Match headers for an object whose tag is tag, with the status a
// GET answers them: 304 for one that names the tag (compared weakly) or is *, 200 otherwise.
func ifNoneMatchCases(tag string) []struct {
	name, header string
	want         int
} {
	return []struct {
		name, header string
		want         int
	}{
		{"its tag", tag, http.StatusNotModified},
		{"a list holding its tag", `"old", ` + tag, http.StatusNotModified},
		{"its tag as a weak one", "W/" + tag, http.StatusNotModified},
		{"*", "*", http.StatusNotModified},
		{"another tag", `"old"`, http.StatusOK},
	}
}

// TestChannelConditionalRequests pins ETag, If-None-Match and If-Match on a channel: the tag is
// the digest of the channel's JSON, so it moves with its status and only then; a GET of the
// version held answers 304; a DELETE naming a version the channel no longer is, or a channel
// that does not exist, answers 412 and deletes nothing.
func TestChannelConditionalRequests(t *testing.T) {
	e := newEnv(t)
	fake := providertest.NewGateway(t, providertest.Config{})
	created, err := e.c.CreateChannelWithResponse(bg, nil, api.ChannelCreate{Name: "Main number", Platform: api.WhatsappGateway, Credentials: fake.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, created.StatusCode(), http.StatusCreated, created.Body)
	id := created.JSON201.Data.Id
	get := func(t *testing.T, ifNoneMatch *string) *api.GetChannelResponse {
		t.Helper()
		res, err := e.c.GetChannelWithResponse(bg, id, &api.GetChannelParams{IfNoneMatch: ifNoneMatch})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// tagOf is the channel's tag and JSON as GET answers them, and insists the one is the digest
	// of the other.
	tagOf := func(t *testing.T) (string, json.RawMessage) {
		t.Helper()
		res := get(t, nil)
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		tag, data := tagged(t, res.HTTPResponse, res.Body)
		if tag != etag.Of(data) {
			t.Fatalf("ETag %s is not the digest of the channel's JSON %s", tag, data)
		}
		return tag, data
	}
	v1, _ := tagOf(t)

	t.Run("create answers the tag GET does, and GET again the same", func(t *testing.T) {
		if tag, _ := tagged(t, created.HTTPResponse, created.Body); tag != v1 {
			t.Errorf("create answered ETag %s, GET %s", tag, v1)
		}
		if again, _ := tagOf(t); again != v1 {
			t.Errorf("the ETag moved without a change: %s then %s", v1, again)
		}
	})

	t.Run("If-None-Match", func(t *testing.T) {
		for _, tc := range ifNoneMatchCases(v1) {
			t.Run(tc.name, func(t *testing.T) {
				res := get(t, ptr(tc.header))
				wantStatus(t, res.StatusCode(), tc.want, res.Body)
				if res.HTTPResponse.Header.Get("ETag") != v1 {
					t.Errorf("ETag %q, want %s", res.HTTPResponse.Header.Get("ETag"), v1)
				}
				if tc.want == http.StatusNotModified && len(res.Body) != 0 {
					t.Errorf("304 with a body: %q", res.Body)
				}
			})
		}
	})

	// A lookup records the provider's answer as the channel's status: its JSON changes, so its tag.
	status, _, body := e.lookup(id, false, "+6281234567890")
	wantStatus(t, status, http.StatusOK, body)
	v2, before := tagOf(t)
	if v2 == v1 {
		t.Fatalf("the ETag did not change with the channel's status: %s", before)
	}
	if res := get(t, ptr(v1)); res.StatusCode() != http.StatusOK {
		t.Errorf("If-None-Match of the old tag answered %d", res.StatusCode())
	}

	t.Run("a stale If-Match refuses DELETE and deletes nothing", func(t *testing.T) {
		for _, tc := range []struct{ name, header string }{
			{"a tag it had", v1},
			{"its tag as a weak one", "W/" + v2},
			{"another tag", `"x"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, err := e.c.DeleteChannelWithResponse(bg, id, &api.DeleteChannelParams{IfMatch: ptr(tc.header)})
				if err != nil {
					t.Fatal(err)
				}
				wantStatus(t, res.StatusCode(), http.StatusPreconditionFailed, res.Body)
				problem(t, http.StatusPreconditionFailed, res.Body)
				if tag, after := tagOf(t); tag != v2 || string(after) != string(before) {
					t.Errorf("changed: %s, was %s", after, before)
				}
			})
		}
	})

	t.Run("the current tag lets DELETE through", func(t *testing.T) {
		res, _ := e.c.DeleteChannelWithResponse(bg, id, &api.DeleteChannelParams{IfMatch: ptr(`"x", ` + v2)})
		wantStatus(t, res.StatusCode(), http.StatusNoContent, res.Body)
		if res := get(t, nil); res.StatusCode() != http.StatusNotFound {
			t.Errorf("GET after the delete answered %d", res.StatusCode())
		}
	})

	t.Run("If-Match on a channel that does not exist is 412, without it 404", func(t *testing.T) {
		never := ids.Format(ids.Channel, ids.New())
		for _, tc := range []struct {
			name, id string
			ifMatch  *string
			want     int
		}{
			{"deleted, If-Match *", id, ptr("*"), http.StatusPreconditionFailed},
			{"deleted, its last tag", id, ptr(v2), http.StatusPreconditionFailed},
			{"deleted, no If-Match", id, nil, http.StatusNotFound},
			{"never made, If-Match *", never, ptr("*"), http.StatusPreconditionFailed},
			{"never made, no If-Match", never, nil, http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, _ := e.c.DeleteChannelWithResponse(bg, tc.id, &api.DeleteChannelParams{IfMatch: tc.ifMatch})
				wantStatus(t, res.StatusCode(), tc.want, res.Body)
				problem(t, tc.want, res.Body)
			})
		}
	})
}

// TestWebhookEndpointConditionalRequests pins ETag, If-None-Match and If-Match on a webhook
// endpoint: the tag is the digest of the endpoint's JSON as GET answers it, so no secret goes
// into it and a rotation moves it only through the JSON it changes; a GET of the version held
// answers 304; a PATCH or DELETE naming a version the endpoint no longer is, or an endpoint that
// does not exist, answers 412 and changes nothing, and of two PATCHes naming one version exactly
// one wins.
func TestWebhookEndpointConditionalRequests(t *testing.T) {
	e := newEnv(t)
	created, err := e.c.CreateWebhookEndpointWithResponse(bg, nil, api.WebhookEndpointCreate{Url: "https://hooks.example.com/wazapin"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, created.StatusCode(), http.StatusCreated, created.Body)
	id := created.JSON201.Data.Id
	get := func(t *testing.T, ifNoneMatch *string) *api.GetWebhookEndpointResponse {
		t.Helper()
		res, err := e.c.GetWebhookEndpointWithResponse(bg, id, &api.GetWebhookEndpointParams{IfNoneMatch: ifNoneMatch})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	tagOf := func(t *testing.T) (string, json.RawMessage) {
		t.Helper()
		res := get(t, nil)
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		tag, data := tagged(t, res.HTTPResponse, res.Body)
		if tag != etag.Of(data) {
			t.Fatalf("ETag %s is not the digest of the endpoint's JSON %s", tag, data)
		}
		return tag, data
	}
	patch := func(t *testing.T, id string, ifMatch *string, body string) *api.UpdateWebhookEndpointResponse {
		t.Helper()
		res, err := e.c.UpdateWebhookEndpointWithBodyWithResponse(bg, id, &api.UpdateWebhookEndpointParams{IfMatch: ifMatch}, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	del := func(t *testing.T, id string, ifMatch *string) *api.DeleteWebhookEndpointResponse {
		t.Helper()
		res, err := e.c.DeleteWebhookEndpointWithResponse(bg, id, &api.DeleteWebhookEndpointParams{IfMatch: ifMatch})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	v1, _ := tagOf(t)

	t.Run("create answers the tag GET does, which leaves the secret out", func(t *testing.T) {
		tag, data := tagged(t, created.HTTPResponse, created.Body)
		if tag != v1 {
			t.Errorf("create answered ETag %s, GET %s", tag, v1)
		}
		if !strings.Contains(string(data), `"secret"`) || tag == etag.Of(data) {
			t.Errorf("create's ETag is the digest of its answer with the secret: %s", data)
		}
		if again, _ := tagOf(t); again != v1 {
			t.Errorf("the ETag moved without a change: %s then %s", v1, again)
		}
	})

	t.Run("If-None-Match", func(t *testing.T) {
		for _, tc := range ifNoneMatchCases(v1) {
			t.Run(tc.name, func(t *testing.T) {
				res := get(t, ptr(tc.header))
				wantStatus(t, res.StatusCode(), tc.want, res.Body)
				if res.HTTPResponse.Header.Get("ETag") != v1 {
					t.Errorf("ETag %q, want %s", res.HTTPResponse.Header.Get("ETag"), v1)
				}
				if tc.want == http.StatusNotModified && len(res.Body) != 0 {
					t.Errorf("304 with a body: %q", res.Body)
				}
			})
		}
	})

	t.Run("a PATCH moves the tag and answers the new one", func(t *testing.T) {
		res := patch(t, id, nil, `{"description":"CRM sync"}`)
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		tag, _ := tagged(t, res.HTTPResponse, res.Body)
		if cur, _ := tagOf(t); tag != cur || cur == v1 {
			t.Errorf("PATCH answered ETag %s, GET %s, before the PATCH %s", tag, cur, v1)
		}
		if res := get(t, ptr(v1)); res.StatusCode() != http.StatusOK {
			t.Errorf("If-None-Match of the old tag answered %d", res.StatusCode())
		}
	})

	t.Run("a stale If-Match refuses PATCH and DELETE and changes nothing", func(t *testing.T) {
		cur, before := tagOf(t)
		for _, stale := range []struct{ name, header string }{
			{"a tag it had", v1},
			{"its tag as a weak one", "W/" + cur},
			{"another tag", `"x"`},
		} {
			for _, op := range []struct {
				name string
				do   func(t *testing.T, ifMatch *string) (int, []byte)
			}{
				{"PATCH", func(t *testing.T, ifMatch *string) (int, []byte) {
					res := patch(t, id, ifMatch, `{"description":"Stale","enabled":false}`)
					return res.StatusCode(), res.Body
				}},
				{"DELETE", func(t *testing.T, ifMatch *string) (int, []byte) {
					res := del(t, id, ifMatch)
					return res.StatusCode(), res.Body
				}},
			} {
				t.Run(op.name+" with "+stale.name, func(t *testing.T) {
					status, body := op.do(t, ptr(stale.header))
					wantStatus(t, status, http.StatusPreconditionFailed, body)
					problem(t, http.StatusPreconditionFailed, body)
					if tag, after := tagOf(t); tag != cur || string(after) != string(before) {
						t.Errorf("changed: %s, was %s", after, before)
					}
				})
			}
		}
	})

	t.Run("the current tag, or *, lets PATCH through", func(t *testing.T) {
		for _, tc := range []struct{ name, header string }{
			{"a list holding the current tag", `"x", `},
			{"*", "*"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				header := tc.header
				if header != "*" {
					cur, _ := tagOf(t)
					header += cur
				}
				res := patch(t, id, ptr(header), `{"description":"Through `+tc.name+`"}`)
				wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
				tag, _ := tagged(t, res.HTTPResponse, res.Body)
				if cur, _ := tagOf(t); tag != cur {
					t.Errorf("PATCH answered ETag %s, GET %s", tag, cur)
				}
			})
		}
	})

	t.Run("two clients read the same version and both PATCH with it: one wins, one gets 412", func(t *testing.T) {
		cur, _ := tagOf(t)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, desc := range []string{"Client A", "Client B"} {
			wg.Go(func() {
				res, err := e.c.UpdateWebhookEndpointWithBodyWithResponse(bg, id, &api.UpdateWebhookEndpointParams{IfMatch: ptr(cur)}, "application/json",
					strings.NewReader(`{"description":"`+desc+`","url":"https://hooks.example.com/`+strings.ReplaceAll(desc, " ", "-")+`"}`))
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.StatusCode()
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		if !slices.Equal(statuses, []int{http.StatusOK, http.StatusPreconditionFailed}) {
			t.Fatalf("statuses %v, want one 200 and one 412", statuses)
		}
		got := e.getEndpoint(id)
		if desc := got.Description.MustGet(); got.Url != "https://hooks.example.com/"+strings.ReplaceAll(desc, " ", "-") {
			t.Errorf("the winner's change is not whole: description %q, url %q", desc, got.Url)
		}
		if tag, _ := tagOf(t); tag == cur {
			t.Error("the ETag did not change with the endpoint")
		}
	})

	t.Run("the secret is no part of the tag; a rotation moves it through the JSON it changes", func(t *testing.T) {
		wsID, _ := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
		epID, _ := ids.Parse(ids.WebhookEndpoint, id)
		cur, before := tagOf(t)
		if _, err := e.pool.Exec(bg, "UPDATE webhook_endpoints SET secret = secret || '\\x00'::bytea WHERE workspace_id = $1 AND id = $2", wsID, epID); err != nil {
			t.Fatal(err)
		}
		if tag, after := tagOf(t); tag != cur || string(after) != string(before) {
			t.Errorf("another secret alone moved the ETag from %s to %s (JSON %s, was %s)", cur, tag, after, before)
		}

		res, err := e.c.RotateWebhookEndpointSecretWithResponse(bg, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res.StatusCode(), http.StatusOK, res.Body)
		rotated, _ := tagged(t, res.HTTPResponse, res.Body)
		tag, after := tagOf(t)
		if rotated != tag {
			t.Errorf("rotation answered ETag %s, GET %s", rotated, tag)
		}
		if tag == cur || string(after) == string(before) {
			t.Errorf("a rotation that changed the JSON from %s to %s left the ETag %s", before, after, tag)
		}

		// The previous secret stops signing: previous_secret_expires_at goes null, and with it the tag.
		if _, err := e.pool.Exec(bg, "UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second' WHERE workspace_id = $1 AND id = $2", wsID, epID); err != nil {
			t.Fatal(err)
		}
		if expired, _ := tagOf(t); expired == tag {
			t.Errorf("the ETag stayed %s after previous_secret_expires_at went null", tag)
		}
	})

	t.Run("the current tag lets DELETE through", func(t *testing.T) {
		cur, _ := tagOf(t)
		res := del(t, id, ptr(cur))
		wantStatus(t, res.StatusCode(), http.StatusNoContent, res.Body)
		if res := get(t, nil); res.StatusCode() != http.StatusNotFound {
			t.Errorf("GET after the delete answered %d", res.StatusCode())
		}
	})

	t.Run("If-Match on an endpoint that does not exist is 412, without it 404", func(t *testing.T) {
		never := ids.Format(ids.WebhookEndpoint, ids.New())
		for _, target := range []struct{ name, id string }{{"deleted", id}, {"never made", never}} {
			for _, tc := range []struct {
				name    string
				ifMatch *string
				want    int
			}{
				{"If-Match *", ptr("*"), http.StatusPreconditionFailed},
				{"no If-Match", nil, http.StatusNotFound},
			} {
				t.Run(target.name+", "+tc.name, func(t *testing.T) {
					p := patch(t, target.id, tc.ifMatch, `{"description":"Ghost"}`)
					wantStatus(t, p.StatusCode(), tc.want, p.Body)
					problem(t, tc.want, p.Body)
					d := del(t, target.id, tc.ifMatch)
					wantStatus(t, d.StatusCode(), tc.want, d.Body)
					problem(t, tc.want, d.Body)
				})
			}
		}
	})
}

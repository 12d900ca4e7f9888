package server_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/wazapin/wazapin/gen/api"
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

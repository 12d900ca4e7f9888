package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/ids"
)

func TestTimesOutsideYears1To9999AreRefused(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	for _, tc := range []struct{ method, path, body, field string }{
		{"PUT", "/consent/sms", `{"status": "opted_in", "captured_at": "0000-01-01T00:00:00+00:01"}`, "captured_at"},
		{"POST", "/suppressions", `{"channel": "sms", "reason": "manual", "expires_at": "9999-12-31T23:59:59-01:00"}`, "expires_at"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			status, body := e.do(tc.method, "/v1/contacts/"+c.Id+tc.path, []byte(tc.body))
			wantStatus(t, status, 422, body)
			if f := fields(problem(t, 422, body)); !slices.Equal(f, []string{tc.field}) {
				t.Errorf("fields %v", f)
			}
		})
	}
	status, body := e.do("GET", "/v1/contacts?updated_since=0000-01-01T00:00:00%2B00:01", nil)
	wantStatus(t, status, 400, body)
	for _, path := range []string{"/consents", "/suppressions"} {
		status, body := e.do("GET", "/v1/contacts/"+c.Id+path, nil)
		wantStatus(t, status, 200, body)
	}
}

// TestUpsertDecidesAgainAfterWaitingForTheOwner holds a contact's row lock while its phone
// moves away, or while the contact is deleted, with an upsert of the old phone waiting on that
// lock (it found the owner before locking): the upsert must see the change and create a new
// contact, not write the old phone back or fail.
func TestUpsertDecidesAgainAfterWaitingForTheOwner(t *testing.T) {
	for _, tc := range []struct {
		name     string
		change   []string
		checkOld func(t *testing.T, e *env, id string)
	}{
		{"the phone moved", []string{
			"UPDATE contact_identities SET value = '+6281400000009' WHERE type = 'phone' AND value = '+6281400000001'",
			"UPDATE contacts SET phone_number = '+6281400000009' WHERE phone_number = '+6281400000001'",
		}, func(t *testing.T, e *env, id string) {
			if got := e.get(id); got.PhoneNumber.MustGet() != "+6281400000009" {
				t.Errorf("the move was undone: phone %v", got.PhoneNumber)
			}
		}},
		{"the contact was deleted", []string{
			"DELETE FROM contacts WHERE phone_number = '+6281400000001'",
		}, func(t *testing.T, e *env, id string) {
			status, body := e.do("GET", "/v1/contacts/"+id, nil)
			wantStatus(t, status, 404, body)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281400000001")})
			tx, err := e.pool.Begin(bg)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(bg) //nolint:errcheck // committed below
			if _, err := tx.Exec(bg, "SELECT 1 FROM contacts WHERE phone_number = '+6281400000001' FOR UPDATE"); err != nil {
				t.Fatal(err)
			}
			done := e.doInBackground("POST", "/v1/contacts", `{"phone_number": "+6281400000001", "name": "upserted"}`)
			waitForLockWait(t, e)
			for _, q := range tc.change {
				if _, err := tx.Exec(bg, q); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(bg); err != nil {
				t.Fatal(err)
			}
			r := <-done
			wantStatus(t, r.status, 201, r.body)
			if strings.Contains(string(r.body), a.Id) {
				t.Errorf("the upsert wrote over the old contact: %s", r.body)
			}
			tc.checkOld(t, e, a.Id)
		})
	}
}

// TestUpsertRetriesADeadlockedCreate lets the one-statement create of a new contact deadlock with
// a transaction that inserts the same two identities in the other order, as an import's COPY can:
// PostgreSQL aborts the create (the first to wait), and the upsert must decide again and land on
// the contact the transaction made, not answer 500.
func TestUpsertRetriesADeadlockedCreate(t *testing.T) {
	e := newEnv(t)
	ws, _ := ids.Parse(ids.Workspace, e.ws.WorkspaceID)
	y := ids.New()
	tx, err := e.pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg) //nolint:errcheck // committed below
	insertIdentity := "INSERT INTO contact_identities (workspace_id, type, value, contact_id) VALUES ($1, $2, $3, $4)"
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO contacts (workspace_id, id, phone_number, email) VALUES ($1, $2, '+6281400000003', 'race@example.com')", []any{ws, y}},
		{insertIdentity, []any{ws, "email", "race@example.com", y}}, // uncommitted: the upsert's look-up misses it
	} {
		if _, err := tx.Exec(bg, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	done := e.doInBackground("POST", "/v1/contacts", `{"phone_number": "+6281400000003", "email": "race@example.com"}`)
	waitForLockWait(t, e) // the create holds the phone and waits for the email
	if _, err := tx.Exec(bg, insertIdentity, ws, "phone", "+6281400000003", y); err != nil {
		t.Fatal(err) // the cycle is broken by aborting the create, not this
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	r := <-done
	wantStatus(t, r.status, 200, r.body)
	if want := ids.Format(ids.Contact, y); !strings.Contains(string(r.body), want) {
		t.Errorf("the upsert did not land on %s: %s", want, r.body)
	}
}

// response is a request's answer, for requests sent in the background.
type response struct {
	status int
	body   []byte
}

// doInBackground sends a request from another goroutine, for tests that hold a lock it must wait on.
func (e *env) doInBackground(method, path, body string) <-chan response {
	done := make(chan response, 1)
	go func() {
		status, b := e.do(method, path, []byte(body))
		done <- response{status, b}
	}()
	return done
}

func waitForLockWait(t *testing.T, e *env) {
	t.Helper()
	for range 500 {
		var n int
		if err := e.pool.QueryRow(bg, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the request never waited for the lock")
}

func TestCaseInsensitiveBeyondASCII(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Name: ptr("Émile Zola")})
	_, first := e.do("POST", "/v1/contacts/"+c.Id+"/tags", []byte(`{"name": "Überkunde"}`))
	status, second := e.do("POST", "/v1/contacts/"+c.Id+"/tags", []byte(`{"name": "überkunde"}`))
	wantStatus(t, status, 200, second)
	if string(first) != string(second) {
		t.Errorf("two spellings made two tags:\n%s\n%s", first, second)
	}
	for _, q := range []string{"Émile", "émile", "ÉMILE Z"} {
		res, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Q: ptr(q)})
		if got := contactIDsOf(res.JSON200.Data); !slices.Equal(got, []string{c.Id}) {
			t.Errorf("q=%s found %v", q, got)
		}
	}
	res, _ := e.c.ListContactsWithResponse(bg, &api.ListContactsParams{Tag: ptr("ÜBERKUNDE")})
	if got := contactIDsOf(res.JSON200.Data); !slices.Equal(got, []string{c.Id}) {
		t.Errorf("tag filter found %v", got)
	}
}

func TestCustomFieldLimits(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	keys := func(from, n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d": %d`, from+i, i)
		}
		b.WriteString("}")
		return b.String()
	}
	for i := range 2 {
		e.ok(e.do("POST", "/v1/contacts", []byte(`{"phone_number": "+6281234567890", "custom_fields": `+keys(i*40, 40)+`}`)))
	}
	before := e.get(c.Id)
	for name, body := range map[string]string{
		"upsert past 100 keys": `{"phone_number": "+6281234567890", "name": "x", "custom_fields": ` + keys(80, 40) + `}`,
		"number out of range":  `{"phone_number": "+6281234567890", "custom_fields": {"n": 1e400}}`,
		"not an object":        `{"phone_number": "+6281234567890", "custom_fields": ["a"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			status, body := e.do("POST", "/v1/contacts", []byte(body))
			wantStatus(t, status, 422, body)
			if f := fields(problem(t, 422, body)); len(f) != 1 || !strings.HasPrefix(f[0], "custom_fields") {
				t.Errorf("fields %v", f)
			}
		})
	}
	t.Run("patch past 100 keys", func(t *testing.T) {
		status, body := e.do("PATCH", "/v1/contacts/"+c.Id, []byte(`{"custom_fields": `+keys(80, 40)+`}`))
		wantStatus(t, status, 422, body)
	})
	if after := e.get(c.Id); string(after.CustomFields) != string(before.CustomFields) || after.Name.IsSpecified() && !after.Name.IsNull() {
		t.Error("a refused request changed the contact")
	}
}

func TestTrailingDataIsMalformed(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/contacts", `{"phone_number": "+6281700000001"} {"oops`},
		{"PATCH", "/v1/contacts/" + c.Id, `{"name": "a"} trailing`},
		{"POST", "/v1/contacts/resolve", `{"identifiers": [{"type": "phone", "value": "+6281234567890"}]}]`},
	} {
		status, body := e.do(tc.method, tc.path, []byte(tc.body))
		wantStatus(t, status, 400, body)
	}
	var n int
	if err := e.pool.QueryRow(bg, "SELECT count(*) FROM contacts").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d contacts (%v), want 1", n, err)
	}
}

func TestPatchKeepsAnIdentifier(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890"), Email: ptr("a@example.com")})
	status, body := e.do("PATCH", "/v1/contacts/"+c.Id, []byte(`{"phone_number": null, "email": null}`))
	wantStatus(t, status, 422, body)
	if got := e.get(c.Id); got.PhoneNumber.IsNull() || got.Email.IsNull() {
		t.Error("a refused patch cleared identifiers")
	}
	t.Run("clearing the external id removes every source", func(t *testing.T) {
		e.ok(e.do("POST", "/v1/contacts", []byte(`{"email": "a@example.com", "external_source": "shopify", "external_id": "s1"}`)))
		e.ok(e.do("POST", "/v1/contacts", []byte(`{"email": "a@example.com", "external_source": "hubspot", "external_id": "h1"}`)))
		e.ok(e.do("PATCH", "/v1/contacts/"+c.Id, []byte(`{"external_source": null, "external_id": null}`)))
		res, _ := e.c.ListContactIdentitiesWithResponse(bg, c.Id)
		for _, i := range res.JSON200.Data {
			if i.Type == api.IdentityTypeExternalId {
				t.Errorf("external id %s:%s survived", *i.Source, i.Value)
			}
		}
	})
}

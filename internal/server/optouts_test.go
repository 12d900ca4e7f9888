package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/gen/api"
)

// reachability asks about identifiers written as type:value on a channel and returns the answers.
func (e *env) reachability(channel string, identifiers ...string) []api.Reachability {
	e.t.Helper()
	req := api.ReachabilityRequest{Channel: api.MessagingChannel(channel)}
	for _, it := range identifiers {
		typ, value, _ := strings.Cut(it, ":")
		req.Identifiers = append(req.Identifiers, api.Identifier{Type: api.IdentifierType(typ), Value: value})
	}
	res, err := e.c.CheckReachabilityWithResponse(bg, nil, req)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	return res.JSON200.Data
}

func (e *env) suppressions(contactID string) []api.Suppression {
	e.t.Helper()
	res, err := e.c.ListContactSuppressionsWithResponse(bg, contactID)
	if err != nil {
		e.t.Fatal(err)
	}
	wantStatus(e.t, res.StatusCode(), http.StatusOK, res.Body)
	return res.JSON200.Data
}

// verdict is an answer in short: "ok", or the reason it may not be messaged.
func verdict(r api.Reachability) string {
	if r.Reachable != (r.Status == api.ReachabilityStatusReachable) {
		return "reachable and status disagree"
	}
	if r.Reachable {
		return "ok"
	}
	return string(r.Status)
}

func TestSuppressionsOutliveTheirContact(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("081234567890"), Name: ptr("Ujang")})
	e.ok(e.do("POST", "/v1/contacts/"+c.Id+"/suppressions", []byte(`{"channel": "whatsapp", "reason": "unsubscribed"}`)))
	e.ok(e.do("DELETE", "/v1/contacts/"+c.Id, nil))

	if got := verdict(e.reachability("whatsapp", "phone:+6281234567890")[0]); got != "suppressed" {
		t.Errorf("the deleted contact's number: %s, want suppressed", got)
	}
	again := e.create(api.ContactCreate{PhoneNumber: ptr("+62 812-3456-7890"), Name: ptr("Ujang again")})
	list := e.suppressions(again.Id)
	if len(list) != 1 || list[0].Channel != api.MessagingChannelWhatsapp || !list[0].Active ||
		!slices.Equal(list[0].Identifiers, []api.SubjectIdentifier{{Type: api.SubjectIdentifierTypePhone, Value: "+6281234567890"}}) {
		t.Fatalf("the contact created again shows %s", mustJSON(list))
	}
	// Nothing that writes the contact clears it.
	e.ok(e.do("POST", "/v1/contacts", []byte(`{"phone_number": "081234567890", "name": "Ujang S."}`)))
	e.ok(e.do("PATCH", "/v1/contacts/"+again.Id, []byte(`{"email": "ujang@example.com", "custom_fields": {"tier": "gold"}}`)))
	status, body := e.do("POST", "/v1/contacts/import", []byte(`{"phone_number": "+6281234567890", "name": "Imported"}`), "Content-Type", "application/x-ndjson")
	wantStatus(t, status, 200, body)
	for _, asked := range []string{"phone:081234567890", "contact_id:" + again.Id, "email:ujang@example.com", "wa_id:6281234567890"} {
		r := e.reachability("whatsapp", asked)[0]
		if verdict(r) != "suppressed" || r.ContactId.MustGet() != again.Id {
			t.Errorf("%s: %s", asked, mustJSON(r))
		}
		if sup := r.Suppression.MustGet(); sup.Reason != api.SuppressionReasonUnsubscribed || sup.Identifier.MustGet().Value != "+6281234567890" {
			t.Errorf("%s: suppression %s", asked, mustJSON(sup))
		}
	}
	// Other channels are not suppressed by it.
	if got := verdict(e.reachability("sms", "phone:081234567890")[0]); got != "ok" {
		t.Errorf("sms: %s", got)
	}
	// Nor is another workspace.
	_, other := e.workspace("Other", "ID")
	res, _ := other.CheckReachabilityWithResponse(bg, nil, api.ReachabilityRequest{Channel: api.MessagingChannelWhatsapp,
		Identifiers: []api.Identifier{{Type: api.IdentifierTypePhone, Value: "+6281234567890"}}})
	wantStatus(t, res.StatusCode(), 200, res.Body)
	if !res.JSON200.Data[0].Reachable {
		t.Errorf("another workspace sees the suppression: %s", res.Body)
	}
}

func TestLiftedSuppressionsAreListedAsLifted(t *testing.T) {
	e := newEnv(t)
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281234567890")})
	path := "/v1/contacts/" + c.Id + "/suppressions"
	status, body := e.do("DELETE", path+"/sms", nil)
	wantStatus(t, status, http.StatusNotFound, body)

	e.ok(e.do("POST", path, []byte(`{"channel": "sms", "reason": "unsubscribed"}`)))
	status, body = e.do("DELETE", path+"/sms?reason="+url.QueryEscape("re-subscribed at the counter"), nil)
	wantStatus(t, status, http.StatusOK, body)
	var lifted api.SuppressionResponse
	if err := json.Unmarshal(body, &lifted); err != nil {
		t.Fatal(err)
	}
	check := func(s api.Suppression) {
		t.Helper()
		if s.Active || s.LiftedAt.IsNull() || s.LiftReason.MustGet() != "re-subscribed at the counter" || s.Reason != api.SuppressionReasonUnsubscribed {
			t.Errorf("lifted suppression %s", mustJSON(s))
		}
	}
	check(lifted.Data)
	list := e.suppressions(c.Id)
	if len(list) != 1 {
		t.Fatalf("suppressions %s", mustJSON(list))
	}
	check(list[0])
	if got := verdict(e.reachability("sms", "phone:+6281234567890")[0]); got != "ok" {
		t.Errorf("after the lift: %s", got)
	}
	// Lifting again keeps the first lift.
	status, body = e.do("DELETE", path+"/sms?reason=again", nil)
	wantStatus(t, status, http.StatusOK, body)
	if err := json.Unmarshal(body, &lifted); err != nil {
		t.Fatal(err)
	}
	check(lifted.Data)
	// Suppressing again clears the lift.
	status, body = e.do("POST", path, []byte(`{"channel": "sms", "reason": "complained"}`))
	wantStatus(t, status, http.StatusOK, body)
	if l := e.suppressions(c.Id); !l[0].Active || !l[0].LiftedAt.IsNull() || l[0].Reason != api.SuppressionReasonComplained {
		t.Errorf("suppressed again: %s", mustJSON(l))
	}
	// An expiry in the past records a suppression that has already expired.
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	status, body = e.do("POST", path, []byte(`{"channel": "email", "reason": "bounced", "expires_at": "`+past.Format(time.RFC3339)+`"}`))
	wantStatus(t, status, http.StatusCreated, body)
	if l := e.suppressions(c.Id); len(l) != 2 || l[0].Channel != api.MessagingChannelEmail || l[0].Active || !l[0].ExpiresAt.MustGet().Equal(past) {
		t.Errorf("expired suppression: %s", mustJSON(l))
	}
	for _, bad := range []string{path + "/fax", path + "/sms?reason=" + strings.Repeat("x", 201)} {
		status, body = e.do("DELETE", bad, nil)
		if status != http.StatusBadRequest {
			t.Errorf("DELETE %s: %d %s", bad, status, body)
		}
	}
}

func TestOptOutsOutliveTheirContactAndOptInsDoNot(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	b := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000002")})
	e.ok(e.do("PUT", "/v1/contacts/"+a.Id+"/consent/whatsapp", []byte(`{"status": "opted_out", "source": "STOP reply"}`)))
	e.ok(e.do("PUT", "/v1/contacts/"+b.Id+"/consent/whatsapp", []byte(`{"status": "opted_in"}`)))
	e.ok(e.do("DELETE", "/v1/contacts/"+a.Id, nil))
	e.ok(e.do("DELETE", "/v1/contacts/"+b.Id, nil))
	a2 := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	b2 := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000002")})
	res, _ := e.c.ListContactConsentsWithResponse(bg, a2.Id)
	if d := res.JSON200.Data; len(d) != 1 || d[0].Status != api.ConsentStatusOptedOut || d[0].Source.MustGet() != "STOP reply" {
		t.Errorf("the opt-out did not come back: %s", res.Body)
	}
	res, _ = e.c.ListContactConsentsWithResponse(bg, b2.Id)
	if d := res.JSON200.Data; len(d) != 0 {
		t.Errorf("the opt-in of a deleted contact came back: %s", res.Body)
	}
	got := e.reachability("whatsapp", "phone:+6281100000001", "phone:+6281100000002")
	if verdict(got[0]) != "opted_out" || verdict(got[1]) != "ok" {
		t.Errorf("reachability %s", mustJSON(got))
	}
}

// TestOptOutsFollowTheirIdentifier moves a suppressed number to another contact: the number takes
// its suppression along, and the contact it left keeps its own.
func TestOptOutsFollowTheirIdentifier(t *testing.T) {
	e := newEnv(t)
	a := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001")})
	e.ok(e.do("POST", "/v1/contacts/"+a.Id+"/suppressions", []byte(`{"channel": "whatsapp", "reason": "blocked"}`)))
	e.ok(e.do("PATCH", "/v1/contacts/"+a.Id, []byte(`{"phone_number": "+6281100000009"}`)))
	b := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001"), Name: ptr("New owner")})
	if l := e.suppressions(b.Id); len(l) != 1 || !l[0].Active || len(l[0].Identifiers) != 1 {
		t.Errorf("the number's new contact shows %s", mustJSON(l))
	}
	if l := e.suppressions(a.Id); len(l) != 1 || !l[0].Active || len(l[0].Identifiers) != 0 {
		t.Errorf("the contact it left shows %s", mustJSON(l))
	}
	got := e.reachability("whatsapp", "phone:+6281100000001", "phone:+6281100000009", "contact_id:"+a.Id)
	for i, want := range []string{"suppressed", "suppressed", "suppressed"} {
		if verdict(got[i]) != want {
			t.Errorf("%d: %s", i, mustJSON(got[i]))
		}
	}
	if got[1].Suppression.MustGet().Identifier.IsSpecified() && !got[1].Suppression.MustGet().Identifier.IsNull() {
		t.Errorf("the new number's suppression is the contact's own, not an identifier's: %s", mustJSON(got[1]))
	}
}

func TestReachability(t *testing.T) {
	e := newEnv(t)
	in := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001"), Email: ptr("in@example.com")})
	out := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000002")})
	quiet := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000003")})
	e.ok(e.do("PUT", "/v1/contacts/"+in.Id+"/consent/whatsapp", []byte(`{"status": "opted_in"}`)))
	e.ok(e.do("PUT", "/v1/contacts/"+out.Id+"/consent/whatsapp", []byte(`{"status": "opted_out"}`)))
	asked := []string{"phone:081100000001", "email:IN@example.com", "phone:+6281100000002", "contact_id:" + quiet.Id, "phone:+6289999999999"}

	if got := e.reachability("whatsapp", asked...); fmt.Sprint(verdicts(got)) != "[ok ok opted_out ok ok]" {
		t.Errorf("without an opt-in required: %v", verdicts(got))
	}
	status, body := e.do("PATCH", "/v1/workspace", []byte(`{"opt_in_required": ["whatsapp", "sms", "whatsapp"]}`))
	wantStatus(t, status, 200, body)
	var ws api.WorkspaceResponse
	if err := json.Unmarshal(body, &ws); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ws.Data.OptInRequired, []api.MessagingChannel{api.MessagingChannelSms, api.MessagingChannelWhatsapp}) || ws.Data.DefaultRegion != "ID" {
		t.Errorf("workspace %s", body)
	}
	got := e.reachability("whatsapp", asked...)
	if fmt.Sprint(verdicts(got)) != "[ok ok opted_out no_consent no_consent]" {
		t.Errorf("with an opt-in required: %v", verdicts(got))
	}
	if got[1].ContactId.MustGet() != in.Id || got[1].Consent.MustGet().Status != api.ConsentStatusOptedIn || !got[4].ContactId.IsNull() {
		t.Errorf("answers %s", mustJSON(got))
	}
	if got[0].Identifier.Value != "081100000001" {
		t.Errorf("the identifier is not echoed as asked: %s", mustJSON(got[0].Identifier))
	}
	if got := e.reachability("email", "phone:+6281100000001"); verdict(got[0]) != "ok" {
		t.Errorf("email needs no opt-in here: %s", mustJSON(got))
	}

	// Bad requests name the field.
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf(`{"type": "phone", "value": "+62811%08d"}`, i)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"channel": "fax", "identifiers": [{"type": "phone", "value": "+6281100000001"}]}`, "channel"},
		{`{"channel": "sms", "identifiers": []}`, "identifiers"},
		{`{"channel": "sms", "identifiers": [` + strings.Join(many, ",") + `]}`, "identifiers"},
		{`{"channel": "sms", "identifiers": [{"type": "phone", "value": "12"}]}`, "identifiers[0].value"},
	} {
		status, body := e.do("POST", "/v1/contacts/reachability", []byte(tc.body))
		if status != 422 && status != 400 {
			t.Errorf("%.60s: %d %s", tc.body, status, body)
			continue
		}
		if f := fields(problem(t, status, body)); !slices.Contains(f, tc.field) {
			t.Errorf("%.60s: fields %v, want %s", tc.body, f, tc.field)
		}
	}
	status, body = e.do("PATCH", "/v1/workspace", []byte(`{"opt_in_required": ["fax"]}`))
	wantStatus(t, status, 422, body)
}

func verdicts(rs []api.Reachability) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = verdict(r)
	}
	return out
}

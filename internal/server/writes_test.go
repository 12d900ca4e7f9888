package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/provider/providertest"
	"github.com/wazapin/wazapin/internal/servertest"
	"github.com/wazapin/wazapin/internal/store"
)

// TestEveryWriteCommitsWithWhatJoinsIt pins the store's transaction seam: every write of the API
// runs what the store's InTx adds in its own transaction, so a row written there commits with the
// change, and a failure there leaves nothing of the change behind.
func TestEveryWriteCommitsWithWhatJoinsIt(t *testing.T) {
	var refuse atomic.Bool
	e := newEnvWith(t, func(s *servertest.Setup) {
		s.Store.InTx = func(ctx context.Context, tx pgx.Tx, w store.Write) error {
			if refuse.Load() {
				return errors.New("refused by the test")
			}
			_, err := tx.Exec(ctx, "INSERT INTO seam_log (op) VALUES ($1)", w.Op)
			return err
		}
	})
	if _, err := e.pool.Exec(bg, "CREATE TABLE seam_log (op text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	fake := providertest.NewGateway(t, providertest.Config{Contacts: map[string]providertest.Contact{"6281100000001": {WaID: "wa-1"}}})
	ch := e.channel(api.WhatsappGateway, fake.Credentials())
	c := e.create(api.ContactCreate{PhoneNumber: ptr("+6281100000001"), Name: ptr("Ujang")})
	path := "/v1/contacts/" + c.Id
	hook := "/v1/webhook-endpoints/" + e.endpoint(api.WebhookEndpointCreate{Url: "https://hooks.example.com/x"}).Id

	// state is everything a write may change, read directly.
	state := func() string {
		var out string
		if err := e.pool.QueryRow(bg, `SELECT concat_ws('|',
			(SELECT string_agg(concat_ws(',', id, name, phone_number, email, custom_fields::text), ';' ORDER BY id) FROM contacts),
			(SELECT string_agg(concat_ws(',', type, source, value, contact_id), ';' ORDER BY type, source, value) FROM contact_identities),
			(SELECT count(*) FROM notes), (SELECT count(*) FROM contact_tags), (SELECT count(*) FROM tags),
			(SELECT string_agg(concat_ws(',', channel, subject_type, subject, status), ';' ORDER BY channel, subject_type, subject) FROM consents),
			(SELECT string_agg(concat_ws(',', channel, subject_type, subject, reason, lifted_at), ';' ORDER BY channel, subject_type, subject) FROM suppressions),
			(SELECT string_agg(concat_ws(',', id, status), ';' ORDER BY id) FROM channels),
			(SELECT string_agg(concat_ws(',', id, url, description, event_types::text, enabled, md5(secret)), ';' ORDER BY id) FROM webhook_endpoints))`).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	logged := func() []string {
		rows, _ := e.pool.Query(bg, "SELECT op FROM seam_log")
		ops, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ops
	}

	for _, tc := range []struct {
		op, method, path, body string
		want                   int
	}{
		{"contact.upsert", "POST", "/v1/contacts", `{"phone_number": "+6281100000002"}`, 201},
		{"contact.upsert", "POST", "/v1/contacts", `{"phone_number": "+6281100000001", "name": "Ujang S."}`, 200},
		{"contact.update", "PATCH", path, `{"email": "ujang@example.com", "custom_fields": {"tier": "gold"}}`, 200},
		{"note.create", "POST", path + "/notes", `{"body": "called back"}`, 201},
		{"tag.assign", "POST", path + "/tags", `{"name": "VIP"}`, 201},
		{"tag.unassign", "DELETE", path + "/tags/VIP", ``, 204},
		{"consent.put", "PUT", path + "/consent/whatsapp", `{"status": "opted_in"}`, 201},
		{"suppression.put", "POST", path + "/suppressions", `{"channel": "sms", "reason": "bounced"}`, 201},
		{"contact.link_wa_id", "POST", "/v1/channels/" + ch.Id + "/contacts/lookup", `{"phone_numbers": ["+6281100000001"], "link": true}`, 200},
		{"contact.import", "POST", "/v1/contacts/import", "{\"phone_number\": \"+6281100000003\"}\n{\"email\": \"ujang@example.com\", \"name\": \"U\"}", 200},
		{"channel.create", "POST", "/v1/channels", `{"name": "Second", "platform": "whatsapp_gateway", "credentials": ` + string(fake.Credentials()) + `}`, 201},
		{"webhook_endpoint.create", "POST", "/v1/webhook-endpoints", `{"url": "https://hooks.example.com/y"}`, 201},
		{"webhook_endpoint.update", "PATCH", hook, `{"event_types": ["contact.created"]}`, 200},
		{"webhook_endpoint.rotate", "POST", hook + "/rotate-secret", ``, 200},
		{"webhook_endpoint.delete", "DELETE", hook, ``, 204},
		{"contact.delete", "DELETE", path, ``, 204},
		{"channel.delete", "DELETE", "/v1/channels/" + ch.Id, ``, 204},
	} {
		t.Run(tc.op+" "+tc.method+" "+tc.path, func(t *testing.T) {
			header := []string{}
			if tc.op == "contact.import" {
				header = []string{"Content-Type", "application/x-ndjson"}
			}
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			before, ops := state(), len(logged())

			refuse.Store(true)
			e.vt.faultsExpected.Store(true)
			status, res := e.do(tc.method, tc.path, body, header...)
			e.vt.faultsExpected.Store(false)
			refuse.Store(false)
			wantStatus(t, status, http.StatusInternalServerError, res)
			if after := state(); after != before {
				t.Fatalf("a write whose seam failed left changes:\n%s\n%s", before, after)
			}

			status, res = e.do(tc.method, tc.path, body, header...)
			wantStatus(t, status, tc.want, res)
			if state() == before {
				t.Errorf("the write changed nothing")
			}
			got := logged()
			if len(got) <= ops || !strings.EqualFold(got[len(got)-1], tc.op) {
				t.Errorf("seam log %v, want %s last", got, tc.op)
			}
		})
	}
}

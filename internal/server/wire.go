package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/wazapin/wazapin/gen/api"
	dbq "github.com/wazapin/wazapin/gen/db"
	"github.com/wazapin/wazapin/internal/apperr"
	"github.com/wazapin/wazapin/internal/cursor"
	"github.com/wazapin/wazapin/internal/etag"
	"github.com/wazapin/wazapin/internal/ids"
	"github.com/wazapin/wazapin/internal/importplan"
	"github.com/wazapin/wazapin/internal/store"
	"github.com/wazapin/wazapin/internal/wire"
)

// The contact answers are the hottest output of the service, and encoding/json spends most of a
// list request reflecting over api.Contact's nullable fields. These response objects satisfy the
// generated strict-server interfaces and write the same JSON (TestContactJSONMatchesTheGeneratedType
// and FuzzContactJSON pin it, and every integration test validates it against openapi.yaml) by
// appending bytes.

// contactBody answers one contact: {"data": contact}.
type contactBody struct {
	status int
	c      dbq.Contact
}

func (r contactBody) write(w http.ResponseWriter) error {
	b := make([]byte, 0, 512)
	b = append(b, `{"data":`...)
	b = wire.AppendContact(b, r.c)
	w.Header().Set("ETag", etag.Of(b[len(`{"data":`):]))
	b = append(b, "}\n"...)
	return writeJSON(w, r.status, b)
}

// contactETag is a contact's entity tag: the digest of its JSON, as contactBody answers it.
func contactETag(c dbq.Contact) string {
	return etag.Of(wire.AppendContact(make([]byte, 0, 512), c))
}

// channelETag is a channel's entity tag: the digest of its JSON, as its answers write it.
func channelETag(c dbq.GetChannelRow) string { return jsonETag(wire.Channel(c)) }

// endpointETag is a webhook endpoint's entity tag: the digest of its JSON as GET answers it, so
// nothing the answer does not show (its secrets) goes into it.
func endpointETag(e store.WebhookEndpoint) string { return jsonETag(webhookEndpointOut(e)) }

// jsonETag is the entity tag of an object the generated responses write with encoding/json: the
// digest of the same bytes. (Should v not encode, neither does the answer: it fails the same way.)
func jsonETag(v any) string {
	b, _ := json.Marshal(v)
	return etag.Of(b)
}

// ifMatch is the store's precondition for an If-Match header, matched strongly against the tag
// tagOf gives the row the write locks; nil without one.
func ifMatch[T any](header *string, tagOf func(T) string) store.Precondition[T] {
	if header == nil {
		return nil
	}
	return func(row T) bool { return etag.Matches(*header, tagOf(row), true) }
}

// preconditionOf answers a write with If-Match to an object that does not exist: 412, as RFC
// 9110 asks, rather than 404.
func preconditionOf(header *string, err error) error {
	var e *apperr.Error
	if header != nil && errors.As(err, &e) && e.Code == apperr.NotFound {
		return apperr.New(apperr.Precondition, "%s, so no version of it matches If-Match", e.Message)
	}
	return err
}

func (r contactBody) VisitGetContactResponse(w http.ResponseWriter) error        { return r.write(w) }
func (r contactBody) VisitGetContactByPhoneResponse(w http.ResponseWriter) error { return r.write(w) }
func (r contactBody) VisitCreateContactResponse(w http.ResponseWriter) error     { return r.write(w) }
func (r contactBody) VisitUpdateContactResponse(w http.ResponseWriter) error     { return r.write(w) }

// contactPage answers a page of contacts: {"data": [...], "meta": {"next_cursor": ...}}.
type contactPage struct {
	rows []dbq.Contact
	more bool
}

func (r contactPage) VisitListContactsResponse(w http.ResponseWriter) error {
	b := make([]byte, 0, 64+400*len(r.rows))
	b = append(b, `{"data":[`...)
	for i, c := range r.rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendContact(b, c)
	}
	b = append(b, `],"meta":{"next_cursor":`...)
	if r.more {
		b = wire.AppendString(b, cursor.Encode(r.rows[len(r.rows)-1].ID))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, "}}\n"...)
	return writeJSON(w, http.StatusOK, b)
}

// resolvedBody answers resolve and its alias lookup, byte for byte the same.
type resolvedBody struct {
	c       dbq.Contact
	matched []api.Identifier
}

func (r resolvedBody) write(w http.ResponseWriter) error {
	b := make([]byte, 0, 640)
	b = append(b, `{"data":`...)
	b = wire.AppendContact(b, r.c)
	b = append(b, `,"meta":{"matched":[`...)
	for i, m := range r.matched {
		if i > 0 {
			b = append(b, ',')
		}
		if m.Source != nil {
			b = append(b, `{"source":`...)
			b = wire.AppendString(b, *m.Source)
			b = append(b, ',')
		} else {
			b = append(b, '{')
		}
		b = append(b, `"type":`...)
		b = wire.AppendString(b, string(m.Type))
		b = append(b, `,"value":`...)
		b = wire.AppendString(b, m.Value)
		b = append(b, '}')
	}
	b = append(b, "]}}\n"...)
	return writeJSON(w, http.StatusOK, b)
}

func (r resolvedBody) VisitResolveContactResponse(w http.ResponseWriter) error { return r.write(w) }
func (r resolvedBody) VisitLookupContactResponse(w http.ResponseWriter) error  { return r.write(w) }

func writeJSON(w http.ResponseWriter, status int, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// importBody answers an import: api.ImportResponse, whose results name up to 100,000 lines, so
// they are appended as bytes rather than built as wire values and reflected over.
type importBody struct {
	lines, created, updated, conflict, invalid int
	results                                    []importplan.Result // every applied line; rejected ones are skipped
	rejected                                   []api.ImportRejection
}

// landed tells whether an import line created or updated a contact.
func landed(r importplan.Result) bool {
	return r.Outcome == importplan.Created || r.Outcome == importplan.Updated
}

func (r importBody) VisitImportContactsResponse(w http.ResponseWriter) error {
	rejected, err := json.Marshal(r.rejected)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 256+len(rejected)+80*len(r.results))
	b = append(b, `{"data":{"conflict":`...)
	b = strconv.AppendInt(b, int64(r.conflict), 10)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, int64(r.created), 10)
	b = append(b, `,"invalid":`...)
	b = strconv.AppendInt(b, int64(r.invalid), 10)
	b = append(b, `,"lines":`...)
	b = strconv.AppendInt(b, int64(r.lines), 10)
	b = append(b, `,"merged_lines":[`...)
	first := true
	for _, l := range r.results {
		if len(l.Earlier) == 0 || !landed(l) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"contact_id":`...)
		b = wire.AppendID(b, ids.Contact, l.Contact)
		b = append(b, `,"earlier_lines":[`...)
		for i, no := range l.Earlier {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(no), 10)
		}
		b = append(b, `],"line":`...)
		b = strconv.AppendInt(b, int64(l.No), 10)
		b = append(b, '}')
	}
	b = append(b, `],"rejected":`...)
	b = append(b, rejected...)
	b = append(b, `,"results":[`...)
	first = true
	for _, l := range r.results {
		if !landed(l) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"contact_id":`...)
		b = wire.AppendID(b, ids.Contact, l.Contact)
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(l.No), 10)
		if l.Outcome == importplan.Created {
			b = append(b, `,"status":"created"}`...)
		} else {
			b = append(b, `,"status":"updated"}`...)
		}
	}
	b = append(b, `],"updated":`...)
	b = strconv.AppendInt(b, int64(r.updated), 10)
	b = append(b, "}}\n"...)
	return writeJSON(w, http.StatusOK, b)
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wazapin/wazapin/internal/nodetest"
	"github.com/wazapin/wazapin/internal/webhooksign"
)

// delivery is a request as the service would send it, or as a forger or a replay would.
type delivery struct {
	Name      string            `json:"name"`
	Headers   map[string]string `json:"headers"`
	Body      []byte            `json:"body"`      // base64 in JSON
	Genuine   bool              `json:"genuine"`   // Verify accepts it: 204, else 401
	Duplicate bool              `json:"duplicate"` // an earlier genuine delivery's webhook-id: 204, not processed again
}

// deliveries are the cases both receivers are tested with: signed by internal/webhooksign, the
// code the service signs with, for a receiver that knows secret and whose clock says now.
func deliveries(t *testing.T) (secret string, now time.Time, cases []delivery) {
	t.Helper()
	key, newKey, otherKey := webhooksign.NewKey(), webhooksign.NewKey(), webhooksign.NewKey()
	secret = webhooksign.Secret(key)
	now = time.Unix(1_760_000_000, 0)
	signAs := func(id, name string, keys [][]byte, sent time.Time, body string) delivery {
		return delivery{Name: name, Body: []byte(body), Genuine: true, Headers: map[string]string{
			"webhook-id":        id,
			"webhook-timestamp": strconv.FormatInt(sent.Unix(), 10),
			"webhook-signature": webhooksign.Signature(keys, id, sent.Unix(), []byte(body)),
		}}
	}
	n := 0
	sign := func(name string, keys [][]byte, sent time.Time, body string) delivery {
		n++
		return signAs(fmt.Sprintf("evt_%026d", n), name, keys, sent, body)
	}
	event := func(seq int) string {
		return fmt.Sprintf(`{"id":"evt_%d","type":"contact.created","sequence":%d,"data":{"object":{"name":"Ujang"}}}`, seq, seq)
	}
	refuse := func(d delivery, name string, change func(d *delivery)) delivery {
		d.Name, d.Genuine = name, false
		d.Headers = cloneMap(d.Headers)
		change(&d)
		return d
	}

	genuine := sign("genuine", [][]byte{key}, now, event(1))
	cases = append(cases,
		genuine,
		sign("sent 4 minutes ago", [][]byte{key}, now.Add(-4*time.Minute), event(2)),
		sign("sent by a clock 4 minutes ahead", [][]byte{key}, now.Add(4*time.Minute), event(3)),
		sign("empty body", [][]byte{key}, now, ""),
		sign("during a rotation, receiver knows the previous secret", [][]byte{newKey, key}, now, event(4)),
		sign("during a rotation, receiver already knows the new secret", [][]byte{key, otherKey}, now, event(5)),
	)
	retry := signAs(genuine.Headers["webhook-id"], "retry of a delivered event, signed anew", [][]byte{key}, now.Add(time.Minute), event(1))
	retry.Duplicate = true
	again := genuine
	again.Name, again.Duplicate = "the same delivery again", true

	sent := sign("", [][]byte{key}, now, event(6))
	cases = append(cases, retry, again,
		refuse(sent, "tampered body", func(d *delivery) { d.Body = []byte(strings.Replace(string(d.Body), "Ujang", "Ujank", 1)) }),
		refuse(sent, "tampered webhook-id", func(d *delivery) { d.Headers["webhook-id"] += "x" }),
		refuse(sent, "tampered webhook-timestamp", func(d *delivery) { d.Headers["webhook-timestamp"] = strconv.FormatInt(now.Unix()+1, 10) }),
		refuse(sent, "tampered signature", func(d *delivery) {
			sig := []byte(d.Headers["webhook-signature"])
			sig[5] ^= 1
			d.Headers["webhook-signature"] = string(sig)
		}),
		refuse(sent, "signature without v1,", func(d *delivery) { d.Headers["webhook-signature"] = d.Headers["webhook-signature"][3:] }),
		refuse(sent, "signature as v2", func(d *delivery) { d.Headers["webhook-signature"] = "v2" + d.Headers["webhook-signature"][2:] }),
		refuse(sent, "no webhook-id", func(d *delivery) { delete(d.Headers, "webhook-id") }),
		refuse(sent, "no webhook-timestamp", func(d *delivery) { delete(d.Headers, "webhook-timestamp") }),
		refuse(sent, "no webhook-signature", func(d *delivery) { delete(d.Headers, "webhook-signature") }),
		refuse(sent, "no headers", func(d *delivery) { d.Headers = map[string]string{} }),
		refuse(sign("", [][]byte{otherKey}, now, event(7)), "signed with another secret", func(*delivery) {}),
		refuse(sign("", [][]byte{newKey, otherKey}, now, event(8)), "two signatures, neither by the secret", func(*delivery) {}),
		refuse(sign("", [][]byte{key}, now.Add(-6*time.Minute), event(9)), "sent 6 minutes ago (a replay)", func(*delivery) {}),
		refuse(sign("", [][]byte{key}, now.Add(6*time.Minute), event(10)), "sent 6 minutes in the future", func(*delivery) {}),
		refuse(sign("", [][]byte{key}, time.Unix(0, 0), event(11)), "sent at the epoch", func(*delivery) {}),
	)
	return secret, now, cases
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func header(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

// TestStandardWebhooksVector: the example of the Standard Webhooks specification verifies, at its
// own time only, and internal/webhooksign makes the same signature.
func TestStandardWebhooksVector(t *testing.T) {
	const secret, id, sig = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	sent := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	h := header(map[string]string{"webhook-id": id, "webhook-timestamp": "1614265330", "webhook-signature": sig})
	if !Verify(secret, h, body, sent) || !Verify(secret, h, body, sent.Add(-5*time.Minute)) {
		t.Error("the reference vector does not verify")
	}
	if Verify(secret, h, body, time.Now()) {
		t.Error("the reference vector, years old, verifies now")
	}
	if Verify(secret, h, []byte(`{"test": 2432232315}`), sent) {
		t.Error("the reference vector with another body verifies")
	}
	key, err := webhooksign.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := webhooksign.Signature([][]byte{key}, id, sent.Unix(), body); got != sig {
		t.Errorf("webhooksign.Signature = %s, the specification says %s", got, sig)
	}
}

func TestVerify(t *testing.T) {
	secret, now, cases := deliveries(t)
	for _, c := range cases {
		if got := Verify(secret, header(c.Headers), c.Body, now); got != c.Genuine {
			t.Errorf("%s: Verify = %v, want %v", c.Name, got, c.Genuine)
		}
	}
	if Verify("whsec_not base64!", header(cases[0].Headers), cases[0].Body, now) {
		t.Error("Verify accepts a malformed secret")
	}
}

// TestReceiver: the handler answers 204 to genuine deliveries and 401 to the others, and queues
// each genuine event once, however often it is delivered.
func TestReceiver(t *testing.T) {
	secret, now, cases := deliveries(t)
	queue := make(chan Event, len(cases))
	rc := &Receiver{Secret: secret, Queue: queue, Now: func() time.Time { return now }}
	var want []string
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(c.Body))
		req.Header = header(c.Headers)
		rec := httptest.NewRecorder()
		rc.ServeHTTP(rec, req)
		wantStatus := http.StatusUnauthorized
		if c.Genuine {
			wantStatus = http.StatusNoContent
			if !c.Duplicate {
				want = append(want, c.Headers["webhook-id"])
			}
		}
		if rec.Code != wantStatus {
			t.Errorf("%s: status %d, want %d: %s", c.Name, rec.Code, wantStatus, rec.Body)
		}
	}
	close(queue)
	var got []string
	for ev := range queue {
		got = append(got, ev.ID)
		if ev.ID == cases[0].Headers["webhook-id"] && !bytes.Equal(ev.Body, cases[0].Body) {
			t.Errorf("event %s: body %s, want %s", ev.ID, ev.Body, cases[0].Body)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("queued %v, want %v (each genuine webhook-id once)", got, want)
	}
}

func TestReceiverLimits(t *testing.T) {
	secret, now, cases := deliveries(t)
	queue := make(chan Event, 1)
	queue <- Event{ID: "evt_earlier"} // full: the worker is behind
	rc := &Receiver{Secret: secret, Queue: queue, Now: func() time.Time { return now }}
	serve := func(method string, body []byte) int {
		req := httptest.NewRequest(method, "/", bytes.NewReader(body))
		req.Header = header(cases[0].Headers)
		rec := httptest.NewRecorder()
		rc.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := serve(http.MethodPost, cases[0].Body); code != http.StatusServiceUnavailable {
		t.Errorf("a full queue: status %d, want 503", code)
	}
	// Not marked as seen: once the worker has caught up, the retry is queued.
	<-queue
	if code := serve(http.MethodPost, cases[0].Body); code != http.StatusNoContent {
		t.Errorf("the retry: status %d, want 204", code)
	}
	if ev := <-queue; ev.ID != cases[0].Headers["webhook-id"] {
		t.Errorf("queued %s, want %s", ev.ID, cases[0].Headers["webhook-id"])
	}
	if code := serve(http.MethodPost, make([]byte, MaxBody+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over MaxBody: status %d, want 413", code)
	}
	if code := serve(http.MethodGet, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", code)
	}
}

// TestTypeScriptReceiver compiles ../ts/receiver.ts and its test with tsc (strict; the TypeScript
// client's pinned compiler and Node.js types, installed with npm ci when missing), and runs the
// test with node on the deliveries TestReceiver uses.
func TestTypeScriptReceiver(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found on PATH: the TypeScript receiver's test needs Node.js 20 or newer with npm")
	}
	if err := nodetest.Check(); err != nil {
		t.Fatal(err)
	}
	tsDir, err := filepath.Abs("../ts")
	if err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(tsDir, "..", "..", "..", "..", "clients", "typescript")
	nodetest.Install(t, client)
	nodetest.Track(t, tsDir, "*.ts", "*.json")
	nodetest.Track(t, client, "package-lock.json")

	out := t.TempDir()
	nodetest.Run(t, tsDir, 2*time.Minute, nil, "node", filepath.Join(client, "node_modules", "typescript", "bin", "tsc"),
		"-p", tsDir, "--outDir", out, "--typeRoots", filepath.Join(client, "node_modules", "@types"))
	// tsc wrote ES modules (package.json says "type": "module"); node reads them as such only below
	// a package.json that says so too.
	write(t, filepath.Join(out, "package.json"), []byte(`{"type": "module"}`))

	secret, now, cases := deliveries(t)
	data, err := json.Marshal(map[string]any{"secret": secret, "now": now.Unix(), "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	casesFile := filepath.Join(out, "cases.json")
	write(t, casesFile, data)
	nodetest.Run(t, out, time.Minute, []string{"WEBHOOK_CASES=" + casesFile},
		"node", "--test", "--test-reporter=spec", filepath.Join(out, "receiver.test.js"))
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestREADME: the README shows the verification functions as they are in main.go and
// receiver.ts (between the lines "// README:begin" and "// README:end"), each in a fenced block
// of its own, and names both files.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocks(string(readme))
	for _, f := range []struct{ path, lang, name string }{
		{"main.go", "go", "docs/examples/webhook-receiver/go/main.go"},
		{"../ts/receiver.ts", "ts", "docs/examples/webhook-receiver/ts/receiver.ts"},
	} {
		src, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok1 := strings.Cut(string(src), "// README:begin\n")
		snippet, _, ok2 := strings.Cut(rest, "// README:end\n")
		if !ok1 || !ok2 {
			t.Fatalf("%s: no lines between // README:begin and // README:end", f.path)
		}
		snippet = strings.TrimSpace(snippet) + "\n"
		if blocks[f.lang][snippet] == 0 {
			t.Errorf("README.md has no ```%s block equal to the lines of %s between its README markers:\n%s", f.lang, f.path, snippet)
		}
		if !strings.Contains(string(readme), f.name) {
			t.Errorf("README.md does not name %s", f.name)
		}
	}
}

// fencedBlocks returns the README's fenced code blocks by language, each block's text counted.
func fencedBlocks(md string) map[string]map[string]int {
	blocks := map[string]map[string]int{}
	lines := strings.SplitAfter(md, "\n")
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(strings.TrimRight(lines[i], "\n"), "```")
		if !ok || lang == "" {
			continue
		}
		var b strings.Builder
		for i++; i < len(lines) && strings.TrimRight(lines[i], "\n") != "```"; i++ {
			b.WriteString(lines[i])
		}
		if blocks[lang] == nil {
			blocks[lang] = map[string]int{}
		}
		blocks[lang][b.String()]++
	}
	return blocks
}

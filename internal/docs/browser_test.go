package docs_test

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wazapin/wazapin/gen/api"
	"github.com/wazapin/wazapin/internal/servertest"
)

// The machine is shared and has two cores: this test takes about eight seconds alone, but 75
// with eight copies of it running at once. Waits are for content, never sleeps, so a fast run
// stays fast, and a page that renders without a summary fails once it settles, not at this bound.
const renderTimeout = 3 * time.Minute

// settleTime is how long a rendered page must stay unchanged before it is judged complete.
const settleTime = 5 * time.Second

// TestDocsInBrowser loads /docs in headless Chromium from a real server, without an API key,
// and fails on any console error or exception, any request to another origin, and any
// operation of the spec whose summary the rendered reference does not show.
func TestDocsInBrowser(t *testing.T) {
	chrome := findChromium(t)
	env := servertest.Start(t)
	base, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	title, summaries := operationSummaries(t)

	rec := &recorder{server: base.Host, seen: map[string]bool{}, inflight: map[network.RequestID]string{}}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // Chromium refuses to start as root with its sandbox, and CI runs as root
		chromedp.DisableGPU,
	)...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(rec.listen))
	defer cancel()
	// The first Run starts the browser; its context must outlive the test's steps, which get
	// their own deadline below, so a browser that never comes up is cancelled by a watchdog.
	watchdog := time.AfterFunc(renderTimeout, cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chrome, err)
	}
	watchdog.Stop()
	stepCtx, cancelSteps := context.WithTimeout(ctx, renderTimeout)
	defer cancelSteps()

	if err := chromedp.Do(stepCtx, chromedp.Navigate(env.URL+"/docs")); err != nil {
		t.Fatalf("load /docs: %v", err)
	}
	// Rendered means every summary is on the page. The sidebar lists each operation by its
	// summary under its tag, and the tags start folded, so each poll unfolds the folded ones as a
	// reader would (a tag's header shows a right-pointing chevron while folded). innerText holds
	// only what is laid out, not markup or hidden nodes: what a reader sees. A page that shows
	// the API's title and then stops changing for settleTime has rendered all it will, so a
	// missing summary fails then rather than at the timeout.
	status, err := chromedp.Run(stepCtx, chromedp.PollFunction[string](`(want, title, settleMs) => {
		let unfolded = 0;
		for (const tag of document.querySelectorAll("div[title]")) {
			if (tag.querySelector(':scope > div svg[data-icon="chevron-right"]')) { tag.click(); unfolded++; }
		}
		const text = document.body.innerText.replace(/\s+/g, " ");
		if (want.every(s => text.includes(s))) return "rendered";
		const seen = (window.docsTest ||= {text: "", since: Date.now()});
		if (unfolded > 0 || text !== seen.text) {
			seen.text = text;
			seen.since = Date.now();
			return "";
		}
		return text.includes(title) && Date.now() - seen.since > settleMs ? "settled" : "";
	}`, chromedp.WithPollingArgs(summaries, title, settleTime.Milliseconds()),
		chromedp.WithPollingTimeout(renderTimeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil || status != "rendered" {
		// The steps' deadline may be spent: read what did render on a fresh one.
		readCtx, cancelRead := context.WithTimeout(ctx, 10*time.Second)
		defer cancelRead()
		text, textErr := chromedp.Run(readCtx, chromedp.Evaluate[string](`document.body.innerText`))
		text = collapseSpace(text)
		var missing []string
		for _, s := range summaries {
			if !strings.Contains(text, s) {
				missing = append(missing, s)
			}
		}
		rec.report(t)
		t.Fatalf("the reference does not show the summaries of %d of %d operations: %q (%s %v)\npage text (%v): %.3000s",
			len(missing), len(summaries), missing, status, err, textErr, text)
	}

	// An operation's page holds the try-it panel, the interactive part: open one as a reader
	// would, from the sidebar, so that its scripts run under the same watch.
	if _, err := chromedp.Run(stepCtx, chromedp.PollFunction[bool](`(summary) => {
		if (document.body.innerText.includes("Send API Request")) return true;
		for (const el of document.querySelectorAll("a, div[title]")) {
			if (el.innerText && el.innerText.trim().startsWith(summary)) { el.click(); break; }
		}
		return false;
	}`, chromedp.WithPollingArgs(summaries[0]), chromedp.WithPollingTimeout(renderTimeout), chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
		rec.report(t)
		t.Fatalf("opening the operation %q did not show its try-it panel (Send API Request): %v", summaries[0], err)
	}

	// Fonts and late images are fetched after layout: let them be asked for before judging.
	if _, err := chromedp.Run(stepCtx, chromedp.Evaluate[bool](`document.fonts.ready.then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Errorf("waiting for fonts: %v", err)
	}
	rec.waitQuiet(stepCtx, 500*time.Millisecond)
	// What the page itself says it fetched, fonts and images included, as a second witness.
	resources, err := chromedp.Run(stepCtx, chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name)`))
	if err != nil {
		t.Errorf("read the page's resource timing: %v", err)
	}
	for _, r := range resources {
		rec.request(r, "resource timing")
	}

	rec.report(t)
}

// findChromium fails, rather than skips, without a browser: a skipped test would let a broken
// /docs pass CI unseen.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("headless Chromium is needed to test /docs and none is on PATH; install it " +
		"(Debian/Ubuntu: apt-get install -y --no-install-recommends chromium; macOS: brew install --cask chromium)")
	return ""
}

// operationSummaries reads the API's title and every operation's summary from the spec the
// binary embeds, at test time, so the test follows the spec as it changes.
func operationSummaries(t *testing.T) (title string, summaries []string) {
	t.Helper()
	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Summary == "" {
				t.Errorf("%s %s (%s) has no summary: the reference would list it by path only", method, path, op.OperationID)
				continue
			}
			out = append(out, collapseSpace(op.Summary))
		}
	}
	if len(out) == 0 {
		t.Fatal("the spec has no operations")
	}
	slices.Sort(out)
	return collapseSpace(spec.Info.Title), slices.Compact(out)
}

var space = regexp.MustCompile(`\s+`)

func collapseSpace(s string) string { return strings.TrimSpace(space.ReplaceAllString(s, " ")) }

// recorder collects, from the browser's events, what the test judges after the page rendered.
type recorder struct {
	server string // host:port of the server under test

	mu       sync.Mutex
	errors   []string
	foreign  []string
	requests int
	seen     map[string]bool // URLs already judged: resource timing repeats what the network saw
	inflight map[network.RequestID]string
	changed  time.Time // when inflight last changed
}

// listen runs on chromedp's reading goroutine: it only records.
func (r *recorder) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			r.addError(fmt.Sprintf("console.%s(%s)", ev.Type, formatArgs(ev.Args)))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		r.addError(fmt.Sprintf("uncaught exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg))
	case *cdplog.EventEntryAdded:
		// Failed loads, CSP violations and the browser's own complaints about the page.
		if ev.Entry.Level == cdplog.EntryLevelError {
			r.addError(fmt.Sprintf("%s error: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		r.request(ev.Request.URL, string(ev.Type))
		r.mu.Lock()
		r.inflight[ev.RequestID] = ev.Request.URL
		r.changed = time.Now()
		r.mu.Unlock()
	case *network.EventLoadingFinished:
		r.done(ev.RequestID)
	case *network.EventLoadingFailed:
		r.done(ev.RequestID)
	}
}

// report fails t for every console error and foreign request recorded so far.
func (r *recorder) report(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errors {
		t.Errorf("console: %s", e)
	}
	for _, f := range r.foreign {
		t.Errorf("request to another origin: %s", f)
	}
	if r.requests == 0 {
		t.Errorf("saw no request at all: the network listener is not working, so the origin check proves nothing")
	}
}

func (r *recorder) addError(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, s)
}

func (r *recorder) done(id network.RequestID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inflight, id)
	r.changed = time.Now()
}

// request records a URL the page asked for and whether it left the server. data: and blob:
// URLs are made in the page and go nowhere.
func (r *recorder) request(raw, kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.seen[raw] {
		return
	}
	r.seen[raw] = true
	u, err := url.Parse(raw)
	if err != nil {
		r.foreign = append(r.foreign, fmt.Sprintf("%s (%s, unparsable: %v)", raw, kind, err))
		return
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return
	}
	if u.Host != r.server {
		r.foreign = append(r.foreign, fmt.Sprintf("%s (%s)", raw, kind))
	}
}

// waitQuiet waits until no request has been in flight for quiet, or ctx ends.
func (r *recorder) waitQuiet(ctx context.Context, quiet time.Duration) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		idle := len(r.inflight) == 0 && time.Since(r.changed) >= quiet
		r.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func formatArgs(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, ", ")
}

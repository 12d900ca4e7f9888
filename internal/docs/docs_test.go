package docs_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/wazapin/wazapin/internal/docs"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCaching checks what lets browsers and proxies cache the reference without serving a
// stale one: the page revalidates (ETag), the assets are immutable under versioned URLs, and
// every answer carries the policy that keeps the page on its own origin.
func TestCaching(t *testing.T) {
	h := docs.Handler()

	page := get(t, h, docs.Path)
	html := body(t, page)
	if page.StatusCode != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs: %d %s", page.StatusCode, page.Header.Get("Content-Type"))
	}
	if got := page.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("page Cache-Control %q, want no-cache: it names the assets' version", got)
	}
	if got := page.Header.Get("Content-Security-Policy"); got != docs.CSP || !strings.Contains(got, "default-src 'self'") {
		t.Errorf("page CSP %q", got)
	}
	if !strings.Contains(html, `apiDescriptionUrl="`+docs.SpecURL+`"`) {
		t.Errorf("the page does not render %s:\n%s", docs.SpecURL, html)
	}
	etag := page.Header.Get("ETag")
	if etag == "" {
		t.Fatal("page has no ETag")
	}
	if res := get(t, h, docs.Path, "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating the page with its ETag: %d, want 304", res.StatusCode)
	}

	assets := regexp.MustCompile(`(?:src|href)="(`+docs.Path+`/assets/[^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(assets) < 3 { // licence, stylesheet, script
		t.Fatalf("the page links %d assets: %s", len(assets), html)
	}
	for _, m := range assets {
		res := get(t, h, m[1])
		b := body(t, res)
		if res.StatusCode != http.StatusOK || len(b) == 0 {
			t.Errorf("GET %s: %d, %d bytes", m[1], res.StatusCode, len(b))
			continue
		}
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want immutable under a versioned URL", m[1], got)
		}
		if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: missing CSP or nosniff", m[1])
		}
	}

	script := regexp.MustCompile(`src="([^"]+\.js)"`).FindStringSubmatch(html)[1]
	plain := body(t, get(t, h, script))
	zres := get(t, h, script, "Accept-Encoding", "gzip, br")
	if zres.Header.Get("Content-Encoding") != "gzip" || zres.Header.Get("ETag") == get(t, h, script).Header.Get("ETag") {
		t.Fatalf("gzip: Content-Encoding %q, ETag %q shared with the plain answer?", zres.Header.Get("Content-Encoding"), zres.Header.Get("ETag"))
	}
	zr, err := gzip.NewReader(zres.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, []byte(plain)) {
		t.Errorf("the gzipped script does not inflate to the plain one (%v)", err)
	}

	for _, p := range []string{docs.Path + "/assets/LICENSE", docs.Path + "/assets/0000/web-components.min.js", docs.Path + "/nope"} {
		if res := get(t, h, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
	if res := get(t, h, docs.Path+"/"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != docs.Path {
		t.Errorf("GET /docs/: %d to %q, want a redirect to /docs", res.StatusCode, res.Header.Get("Location"))
	}
}

// Package docs serves the interactive API reference at /docs: Stoplight Elements, pinned and
// fetched by scripts/docs-asset.sh into assets/, rendering the spec the server itself serves at
// /openapi.yaml. Everything the page loads comes from the binary, so the reference works
// offline, and its Content-Security-Policy keeps the browser from asking any other origin.
package docs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

// Path is where the reference is served; its files are served under Path + "/".
const Path = "/docs"

// SpecURL is the spec the page renders: the server's own, so the reference always describes the
// binary that serves it. YAML rather than JSON because it is the file as written, with the
// operations and fields in the order their authors chose.
const SpecURL = "/openapi.yaml"

//go:embed assets
var embedded embed.FS

// CSP allows the page's own origin only. Styles may be inline because the renderer sets style
// attributes on its elements; images and fonts may be data: URLs because its icons are inlined.
// Everything else, scripts included, must come from this server: no CDN, no fonts, no analytics.
// The try-it panel's requests (connect-src) may go only to this server too, which also keeps an
// API key typed into it from being sent anywhere else.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one response body, ready to serve.
type file struct {
	body, gzipped []byte
	contentType   string
	etag          string
}

type site struct {
	version string           // short hash of every asset: their URLs change whenever one does
	files   map[string]*file // by request path
	page    *file
}

// load reads the embedded assets once for the process: hashing and compressing 2.4 MB is work
// worth doing once, not per server (tests start many).
var load = sync.OnceValues(func() (*site, error) {
	entries, err := fs.ReadDir(embedded, "assets")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	bodies := map[string][]byte{}
	for _, e := range entries { // sorted by name, so the version is stable
		b, err := embedded.ReadFile("assets/" + e.Name())
		if err != nil {
			return nil, err
		}
		bodies[e.Name()] = b
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
		h.Write(b)
	}
	s := &site{version: hex.EncodeToString(h.Sum(nil))[:12], files: map[string]*file{}}
	for name, b := range bodies {
		f, err := newFile(b, contentType(name))
		if err != nil {
			return nil, err
		}
		s.files[s.assetPath(name)] = f
	}
	if s.page, err = newFile([]byte(s.html()), "text/html; charset=utf-8"); err != nil {
		return nil, err
	}
	return s, nil
})

func newFile(body []byte, contentType string) (*file, error) {
	sum := sha256.Sum256(body)
	f := &file{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	// Compressed once: the script is 2 MB as is and 0.6 MB gzipped, which a page load over a
	// slow link feels.
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() < len(body) {
		f.gzipped = buf.Bytes()
	}
	return f, nil
}

// assetPath is where an asset is served: under the version, so that it can be cached for good.
func (s *site) assetPath(name string) string {
	return Path + "/assets/" + s.version + "/" + name
}

func (s *site) html() string {
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wazapin API reference</title>
<link rel="icon" href="data:,">
<link rel="license" href="` + s.assetPath("LICENSE") + `">
<link rel="stylesheet" href="` + s.assetPath("styles.min.css") + `">
<script src="` + s.assetPath("web-components.min.js") + `"></script>
<style>html, body { height: 100%; margin: 0; }</style>
</head>
<body>
<!-- Rendered by Stoplight Elements (` + strings.TrimSpace(s.source()) + `), served from this binary. -->
<elements-api apiDescriptionUrl="` + SpecURL + `" router="hash" layout="sidebar"></elements-api>
</body>
</html>
`
}

// source is the package, version and checksum the assets were fetched as.
func (s *site) source() string {
	if f := s.files[s.assetPath("SOURCE")]; f != nil {
		return string(f.body)
	}
	return ""
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "text/plain; charset=utf-8" // the licences and SOURCE
}

// Serves tells whether Handler has something at path, so that the caller can answer other paths
// below Path as it answers any unknown route.
func Serves(path string) bool {
	if path == Path || path == Path+"/" {
		return true
	}
	s, err := load()
	return err == nil && s.files[path] != nil
}

// Handler serves the reference page at Path and its assets below it. The page is revalidated on
// every load (it names the assets' version); the assets are immutable under their versioned URLs.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := load()
		if err != nil {
			http.Error(w, "docs assets: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch p := r.URL.Path; {
		case p == Path:
			serve(w, r, s.page, "no-cache")
		case p == Path+"/":
			http.Redirect(w, r, Path, http.StatusMovedPermanently)
		default:
			f := s.files[p]
			if f == nil {
				http.NotFound(w, r)
				return
			}
			serve(w, r, f, "public, max-age=31536000, immutable")
		}
	})
}

func serve(w http.ResponseWriter, r *http.Request, f *file, cacheControl string) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", cacheControl)
	h.Set("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	if f.gzipped != nil && acceptsGzip(r) {
		// Its own ETag: the bytes differ, and a cache must not answer one encoding for the other.
		body, etag = f.gzipped, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// etagMatches reads If-None-Match, a list of ETags (weak ones compared weakly) or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

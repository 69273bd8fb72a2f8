// Package ui holds the static teacher and board apps (plain ES modules, no
// build step) and serves them from the binary.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// workerTemplate is the service worker; NewHandler fills in its version
// and the list of files it keeps.
//
//go:embed sw.js
var workerTemplate []byte

// pages maps app routes to the HTML page that serves them; the apps route
// the rest themselves.
var pages = map[string]string{
	"/":        "teacher.html",
	"/reset":   "teacher.html",
	"/confirm": "teacher.html",
	"/pair":    "teacher.html",
	"/board":   "board.html",
	"/join":    "join.html",
}

// entries are served at fixed URLs (the browser asks for them by name),
// always revalidated. Their text names assets by their hashed URLs.
var entries = map[string]string{
	"/favicon.ico":          "favicon.ico",
	"/manifest.webmanifest": "manifest.webmanifest",
	"/board.webmanifest":    "board.webmanifest",
}

// workerPath is the service worker's URL: at the root, so that its scope
// covers every page without a Service-Worker-Allowed header.
const workerPath = "/sw.js"

type asset struct {
	body []byte
	etag string
	ct   string
}

// Handler serves the apps. Assets live under /static/<version>/, where
// the version is a hash of every embedded file: their URLs change with
// their content, so they are cached for a year without revalidation,
// while pages, manifests and the service worker are revalidated on every
// load (ETag, no-cache), so that a school's proxy never keeps an old app
// after an upgrade. One hash for the whole app (not one per file) keeps
// ES module imports relative and unchanged: no import map, no rewriting
// of scripts, nothing inline for the CSP to allow. The app is about 100
// KB, so an upgrade costs each browser that much once.
type Handler struct {
	version string
	assets  map[string]asset // by name under static/
	fixed   map[string]asset // by URL path: pages, entries, the worker
	start   time.Time
}

// NewHandler loads the embedded files.
func NewHandler() (*Handler, error) {
	raw := map[string][]byte{}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		raw[strings.TrimPrefix(p, "static/")] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load embedded apps: %w", err)
	}
	h := &Handler{version: version(raw), assets: map[string]asset{}, fixed: map[string]asset{}, start: time.Now()}
	prefix := "/static/" + h.version + "/"
	// Only what a page names through /static/ is an asset; pages and entries
	// name them, with the version put in.
	named := map[string]bool{}
	for _, name := range slices.Concat(slices.Collect(maps.Values(pages)), slices.Collect(maps.Values(entries))) {
		named[name] = true
	}
	for name, b := range raw {
		if !named[name] {
			h.assets[name] = newAsset(name, b)
		}
	}
	for p, name := range pages {
		h.fixed[p] = newAsset(name, bytes.ReplaceAll(raw[name], []byte(`"/static/`), []byte(`"`+prefix)))
	}
	for p, name := range entries {
		h.fixed[p] = newAsset(name, bytes.ReplaceAll(raw[name], []byte(`"/static/`), []byte(`"`+prefix)))
	}
	worker, err := h.worker(prefix)
	if err != nil {
		return nil, err
	}
	h.fixed[workerPath] = newAsset("sw.js", worker)
	return h, nil
}

// version hashes every file's name and content.
func version(raw map[string][]byte) string {
	sum := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		fmt.Fprintf(sum, "%s\x00%d\x00", name, len(raw[name]))
		sum.Write(raw[name])
	}
	sum.Write(workerTemplate)
	return hex.EncodeToString(sum.Sum(nil)[:6])
}

// worker fills in the service worker's version and the app shell it keeps:
// every page, entry and asset of this version.
func (h *Handler) worker(prefix string) ([]byte, error) {
	shell := slices.Concat(slices.Collect(maps.Keys(pages)), slices.Collect(maps.Keys(entries)))
	for name := range h.assets {
		// Vendored libraries only the teacher's importer uses (PDF.js,
		// about 1.7 MB) are fetched when used, not kept on every board.
		if strings.HasPrefix(name, "vendor/") {
			continue
		}
		shell = append(shell, prefix+name)
	}
	slices.Sort(shell)
	shellJSON, err := json.Marshal(shell)
	if err != nil {
		return nil, fmt.Errorf("encode app shell: %w", err)
	}
	pagesJSON, err := json.Marshal(slices.Sorted(maps.Keys(pages)))
	if err != nil {
		return nil, fmt.Errorf("encode pages: %w", err)
	}
	return []byte(strings.NewReplacer(
		"__VERSION__", h.version, "__SHELL__", string(shellJSON), "__PAGES__", string(pagesJSON),
	).Replace(string(workerTemplate))), nil
}

func newAsset(name string, b []byte) asset {
	sum := sha256.Sum256(b)
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".webmanifest":
		ct = "application/manifest+json"
	case ".ico":
		ct = "image/x-icon"
	}
	return asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ct: ct}
}

// Version is the hash in the assets' URLs.
func (h *Handler) Version() string { return h.version }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	cache := "no-cache"
	a, ok := h.fixed[r.URL.Path]
	if !ok {
		// An asset of another version (a page of an older or newer node
		// during an upgrade) is not found rather than served with content
		// that its URL does not name.
		name, hashed := strings.CutPrefix(r.URL.Path, "/static/"+h.version+"/")
		a, ok = h.assets[name]
		ok = ok && hashed
		cache = "public, max-age=31536000, immutable"
	}
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", a.ct)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", h.start, bytes.NewReader(a.body))
}

// Package ui holds the static teacher and board apps (plain ES modules, no
// build step) and serves them from the binary.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

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

type asset struct {
	body []byte
	etag string
	ct   string
}

// Handler serves the apps. Files are revalidated on every load (ETag,
// no-cache): a school's proxy must not keep an old app after an upgrade.
type Handler struct {
	assets map[string]asset
	start  time.Time
}

// NewHandler loads the embedded files.
func NewHandler() (*Handler, error) {
	h := &Handler{assets: map[string]asset{}, start: time.Now()}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if strings.HasSuffix(p, ".js") {
			ct = "text/javascript; charset=utf-8"
		}
		h.assets[strings.TrimPrefix(p, "static/")] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ct: ct}
		return nil
	})
	return h, err
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := pages[r.URL.Path]
	if !ok {
		name, ok = strings.CutPrefix(r.URL.Path, "/static/")
	}
	a, found := h.assets[name]
	if !ok || !found {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", a.ct)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", h.start, bytes.NewReader(a.body))
}

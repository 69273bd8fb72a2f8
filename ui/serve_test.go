package ui

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, p string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
	return rec
}

var (
	staticRef = regexp.MustCompile(`"(/static/[^"]+)"`)
	importRef = regexp.MustCompile(`(?:from|import\()\s*'([^']+)'`)
)

// Pages name their assets by hashed URLs, served for a year; each module
// a script imports resolves to a hashed URL that exists, so no page mixes
// versions.
func TestPagesNameHashedImmutableAssets(t *testing.T) {
	h, err := NewHandler()
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/static/" + h.Version() + "/"
	for p := range pages {
		rec := get(t, h, p)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: %d %q", p, rec.Code, rec.Header().Get("Cache-Control"))
		}
		refs := staticRef.FindAllStringSubmatch(rec.Body.String(), -1)
		if len(refs) == 0 {
			t.Fatalf("%s names no assets", p)
		}
		seen := map[string]bool{}
		var walk func(u string)
		walk = func(u string) {
			if seen[u] {
				return
			}
			seen[u] = true
			if !strings.HasPrefix(u, prefix) {
				t.Fatalf("%s names %s, not a hashed URL", p, u)
			}
			rec := get(t, h, u)
			if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
				t.Fatalf("%s: %d %q", u, rec.Code, rec.Header().Get("Cache-Control"))
			}
			if strings.HasSuffix(u, ".js") {
				for _, m := range importRef.FindAllStringSubmatch(rec.Body.String(), -1) {
					walk(path.Join(path.Dir(u), m[1]))
				}
			}
		}
		for _, r := range refs {
			walk(r[1])
		}
	}
	for _, stale := range []string{"/static/js/board.js", "/static/000000000000/js/board.js", prefix + "nope.js"} {
		if rec := get(t, h, stale); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", stale, rec.Code)
		}
	}
}

// The worker is served at the root and keeps every page and asset of its
// version; the favicon and the manifests are there for any node to serve.
func TestWorkerKeepsTheShell(t *testing.T) {
	h, err := NewHandler()
	if err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "/sw.js")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("/sw.js: %d %v", rec.Code, rec.Header())
	}
	body := rec.Body.String()
	if strings.Contains(body, "__") {
		t.Fatalf("worker has an unfilled placeholder:\n%s", body)
	}
	m := regexp.MustCompile(`const SHELL = (\[.*\]);`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("worker lists no shell")
	}
	var shell []string
	if err := json.Unmarshal([]byte(m[1]), &shell); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"/": true, "/board": true, "/favicon.ico": true, "/static/" + h.Version() + "/js/board.js": true}
	for _, u := range shell {
		if rec := get(t, h, u); rec.Code != http.StatusOK {
			t.Errorf("shell entry %s: %d", u, rec.Code)
		}
		delete(want, u)
	}
	if len(want) > 0 {
		t.Fatalf("shell %v lacks %v", shell, want)
	}
	for p, ct := range map[string]string{"/favicon.ico": "image/x-icon", "/manifest.webmanifest": "application/manifest+json", "/board.webmanifest": "application/manifest+json"} {
		rec := get(t, h, p)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ct {
			t.Fatalf("%s: %d %q", p, rec.Code, rec.Header().Get("Content-Type"))
		}
		if strings.HasSuffix(p, ".webmanifest") {
			var mf struct {
				StartURL string `json:"start_url"`
				Icons    []struct{ Src string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &mf); err != nil || len(mf.Icons) == 0 {
				t.Fatalf("%s: %v %+v", p, err, mf)
			}
			if rec := get(t, h, mf.Icons[0].Src); rec.Code != http.StatusOK {
				t.Fatalf("%s icon %s: %d", p, mf.Icons[0].Src, rec.Code)
			}
		}
	}
}

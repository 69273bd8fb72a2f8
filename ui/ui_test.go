package ui

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	moduleScript = regexp.MustCompile(`<script type="module" src="/static/([^"]+)"></script>`)
	preloadLink  = regexp.MustCompile(`<link rel="modulepreload" href="/static/([^"]+)">`)
	importLine   = regexp.MustCompile(`(?m)^import .* from '([^']+)';$`)
)

// Each page preloads every module its entry module imports, directly or
// not, so a board on a slow network fetches the whole chain in one round
// trip instead of one round trip per level of imports.
func TestPagesPreloadTheirModules(t *testing.T) {
	for _, page := range []string{"board.html", "teacher.html", "join.html"} {
		t.Run(page, func(t *testing.T) {
			html := read(t, page)
			entry := moduleScript.FindStringSubmatch(html)
			if entry == nil {
				t.Fatal("no module script")
			}
			var want []string
			var walk func(string)
			walk = func(mod string) {
				for _, m := range importLine.FindAllStringSubmatch(read(t, mod), -1) {
					dep := path.Join(path.Dir(mod), m[1])
					if !slices.Contains(want, dep) {
						want = append(want, dep)
						walk(dep)
					}
				}
			}
			walk(entry[1])
			var got []string
			for _, m := range preloadLink.FindAllStringSubmatch(html, -1) {
				got = append(got, m[1])
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("preloads %v, want the imports of %s: %v", got, entry[1], want)
			}
		})
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := files.ReadFile("static/" + strings.TrimPrefix(name, "/"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package ui

import (
	"encoding/json"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// languages are the catalogues under static/js/i18n.
var languages = []string{"en", "nl"}

// tCall finds t('key') and t("key") calls; keys built at run time (such as
// error.<code>) are checked against their own source of truth instead.
var tCall = regexp.MustCompile(`\bt\(\s*['"]([^'"]+)['"]`)

// keyLiteral finds string literals shaped like a catalogue key (area.name).
var keyLiteral = regexp.MustCompile(`['"]([a-z]+\.[a-z0-9_.]+)['"]`)

// catalogue parses a catalogue module: `export default { ...strict JSON... };`
// between its comment lines.
func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	src := read(t, "js/i18n/"+lang+".js")
	start, end := strings.Index(src, "export default {"), strings.LastIndex(src, "}")
	if start < 0 || end < start {
		t.Fatalf("%s.js: want `export default { ... };`", lang)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(src[start+len("export default "):end+1]), &m); err != nil {
		t.Fatalf("%s.js is not strict JSON inside `export default`: %v", lang, err)
	}
	return m
}

// Every language has every key, and no message is empty.
func TestCataloguesHaveTheSameKeys(t *testing.T) {
	want := catalogue(t, "en")
	for _, lang := range languages {
		got := catalogue(t, lang)
		for k, v := range got {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", lang, k)
			}
			if _, ok := want[k]; !ok {
				t.Errorf("%s has %q, en does not", lang, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if _, ok := got[k]; !ok {
				t.Errorf("%s misses %q", lang, k)
			}
		}
	}
}

// Every key the apps ask for by name is in the catalogues.
func TestAppsUseOnlyKnownKeys(t *testing.T) {
	known := catalogue(t, "en")
	keySpace := map[string]bool{}
	for k := range known {
		keySpace[strings.SplitN(k, ".", 2)[0]] = true
	}
	err := fs.WalkDir(files, "static/js", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".js") || strings.HasPrefix(name, "static/js/i18n/") {
			return err
		}
		src, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		for _, m := range tCall.FindAllStringSubmatch(string(src), -1) {
			if _, ok := known[m[1]]; !ok {
				t.Errorf("%s asks for %q, which no catalogue has", name, m[1])
			}
		}
		// Keys picked by a condition (t(on ? 'a.x' : 'a.y')) are checked
		// too: any whole string literal in a catalogue's key space.
		for _, m := range keyLiteral.FindAllStringSubmatch(string(src), -1) {
			if _, ok := known[m[1]]; !ok && keySpace[strings.SplitN(m[1], ".", 2)[0]] {
				t.Errorf("%s names %q, which no catalogue has", name, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package markdown

import (
	"regexp"
	"strings"
	"testing"
)

func TestRenderSubset(t *testing.T) {
	r := New()
	for _, tc := range []struct{ name, in, want string }{
		{"paragraphs", "one\n\ntwo", "<p>one</p>\n<p>two</p>"},
		{"emphasis", "*a* **b** _c_", "<p><em>a</em> <strong>b</strong> <em>c</em></p>"},
		{"bullet list", "- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"},
		{"numbered list", "1. a\n2. b", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>"},
		{"raw html dropped", "<script>alert(1)</script>", ""},
		{"inline html dropped", "a <b onclick=x>b</b> <img src=x onerror=alert(1)>", "<p>a b </p>"},
		{"link keeps its text only", "[click](javascript:alert(1))", "<p>click</p>"},
		{"image dropped", "![x](http://evil.example/a.png)", "<p></p>"},
		{"heading becomes text", "# Title", "Title"},
		{"escaped characters", "a < b & c", "<p>a &lt; b &amp; c</p>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Render(tc.in); got != tc.want {
				t.Fatalf("Render(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// tag matches every tag in the output; only the subset's, bare, may appear.
var (
	tag     = regexp.MustCompile(`<[^>]*>`)
	allowed = regexp.MustCompile(`^</?(p|em|strong|ul|ol|li)>$|^<br/?>$`)
)

func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "*a*", "- x\n- y", "<script>x</script>", "[a](javascript:x)", "<a href=x>y</a>",
		"``<img src=x onerror=y>``", "<!-- x -->", "&lt;script&gt;", "***\n> quote", "1. a\n   * b"} {
		f.Add(s)
	}
	r := New()
	f.Fuzz(func(t *testing.T, src string) {
		out := r.Render(src)
		for _, m := range tag.FindAllString(out, -1) {
			if !allowed.MatchString(m) {
				t.Fatalf("Render(%q) contains %q: %q", src, m, out)
			}
		}
		if strings.Contains(strings.ToLower(out), "<script") || strings.Contains(out, "javascript:") && strings.Contains(out, "href") {
			t.Fatalf("Render(%q) = %q", src, out)
		}
	})
}

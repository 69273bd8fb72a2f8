package markdown

import (
	"github.com/microcosm-cc/bluemonday"
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
		{"javascript link keeps its text only", "[click](javascript:alert(1))", "<p>click</p>"},
		{"http link kept", "[map](https://maps.example/x?a=1&b=2)", `<p><a href="https://maps.example/x?a=1&amp;b=2">map</a></p>`},
		{"relative link keeps its text only", "[x](/api/v1/me)", "<p>x</p>"},
		{"data link keeps its text only", "[x](data:text/html,hi)", "<p>x</p>"},
		{"link attributes dropped", `<a href="https://a.example" onclick="x" target="_top">y</a>`, "<p>y</p>"},
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
	allowed = regexp.MustCompile(`^</?(p|em|strong|ul|ol|li|a)>$|^<br/?>$|^<a href="https?://[^"]+">$`)
)

func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "*a*", "- x\n- y", "<script>x</script>", "[a](javascript:x)", "<a href=x>y</a>",
		"``<img src=x onerror=y>``", "<!-- x -->", "&lt;script&gt;", "***\n> quote", "1. a\n   * b"} {
		f.Add(s)
	}
	r := New()
	f.Fuzz(func(t *testing.T, src string) {
		out := r.Render(src)
		UnlinkText(src) // must not panic on any input
		r.FeaturedLink(src)
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

func TestFeaturedLink(t *testing.T) {
	r := New()
	for _, tc := range []struct{ name, in, want string }{
		{"link on its own line", "Open this:\n\n[the map](https://maps.example/x)", "https://maps.example/x"},
		{"autolink on its own line", "<https://a.example/>", "https://a.example/"},
		{"link inside a sentence", "See [the map](https://maps.example/x) later.", ""},
		{"two links on their own lines", "[a](https://a.example)\n\n[b](https://b.example)", ""},
		{"not http", "[a](javascript:alert(1))", ""},
		{"no link", "just *text*", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.FeaturedLink(tc.in); got != tc.want {
				t.Fatalf("FeaturedLink(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// v1 is the renderer of lesson schema version 1, which showed links as
// their text: UnlinkText must make version 2 render those bodies the same.
func v1() *Renderer {
	r := New()
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "em", "strong", "ul", "ol", "li", "br")
	r.policy = p
	return r
}

func TestUnlinkTextRendersAsVersion1(t *testing.T) {
	r, old := New(), v1()
	for _, in := range []string{
		"plain *text*",
		"see [the map](https://maps.example/x) now",
		"[a **bold** link](https://a.example \"title\") and [b](https://b.example/(x))",
		"- [one](https://one.example)\n- two [ref][r]\n\n[r]: https://r.example",
		"![picture](https://p.example/a.png) [x](http://x.example)",
		"`[code](https://c.example)` stays",
		"<https://auto.example/> and [x](https://x.example)",
	} {
		got, want := r.Render(UnlinkText(in)), old.Render(in)
		if got != want {
			t.Errorf("UnlinkText(%q) renders %q, version 1 rendered %q", in, got, want)
		}
	}
}

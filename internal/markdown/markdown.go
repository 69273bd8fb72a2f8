// Package markdown renders the small Markdown subset of text slides
// (paragraphs, emphasis, lists) to safe HTML.
package markdown

import (
	"bytes"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
)

// Renderer renders slide bodies. It is safe for concurrent use.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// New returns a renderer. Goldmark escapes raw HTML unless told otherwise;
// the sanitizer behind it keeps only the subset's elements, without any
// attribute, so that neither a goldmark bug nor a new Markdown feature can
// put a link, an image or a script on a board.
func New() *Renderer {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "em", "strong", "ul", "ol", "li", "br")
	return &Renderer{md: goldmark.New(), policy: p}
}

// Render returns the sanitized HTML of src. Markdown has no syntax errors:
// anything it does not understand is shown as text.
func (r *Renderer) Render(src string) string {
	var buf bytes.Buffer
	if err := r.md.Convert([]byte(src), &buf); err != nil {
		// Convert fails only when writing to buf fails, which it cannot;
		// show nothing rather than something unsanitized.
		return ""
	}
	return string(bytes.TrimSpace(r.policy.SanitizeBytes(buf.Bytes())))
}

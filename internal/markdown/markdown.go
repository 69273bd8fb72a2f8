// Package markdown renders the small Markdown subset of text slides
// (paragraphs, emphasis, lists, http/https links) to safe HTML.
package markdown

import (
	"bytes"
	"net/url"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Renderer renders slide bodies. It is safe for concurrent use.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// New returns a renderer. Goldmark escapes raw HTML unless told otherwise;
// the sanitizer behind it keeps only the subset's elements, and of
// attributes only a link's href when it is an absolute http or https URL,
// so that neither a goldmark bug nor a new Markdown feature can put an
// image, a script or a javascript: link on a board.
func New() *Renderer {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "em", "strong", "ul", "ol", "li", "br")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
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

// FeaturedLink returns the link a body is about: the URL of the only
// paragraph that holds nothing but one http or https link. A teacher who
// puts a link on a line of its own wants the class to open it, so the
// board shows its QR code; a link in a sentence is only read. "" when
// there is none or more than one.
func (r *Renderer) FeaturedLink(src string) string {
	source := []byte(src)
	doc := r.md.Parser().Parse(text.NewReader(source))
	found := ""
	count := 0
	for p := doc.FirstChild(); p != nil; p = p.NextSibling() {
		if p.Kind() != ast.KindParagraph || p.ChildCount() != 1 {
			continue
		}
		var dest string
		switch l := p.FirstChild().(type) {
		case *ast.Link:
			dest = string(l.Destination)
		case *ast.AutoLink:
			if l.AutoLinkType != ast.AutoLinkURL {
				continue
			}
			dest = string(l.URL(source))
		default:
			continue
		}
		if !httpURL(dest) {
			continue
		}
		count++
		found = dest
	}
	if count != 1 {
		return ""
	}
	return found
}

func httpURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// UnlinkText returns src with each link replaced by its text. Lessons of
// schema version 1 were shown with links as plain text; reading them
// through UnlinkText keeps them looking as they always did now that links
// are shown.
func UnlinkText(src string) string {
	source := []byte(src)
	doc := goldmark.DefaultParser().Parse(text.NewReader(source))
	type cut struct{ start, end, textStart, textEnd int }
	var cuts []cut
	var autolinks [][]byte
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) { //nolint:errcheck // the walker returns no error
		if !entering {
			return ast.WalkContinue, nil
		}
		switch l := n.(type) {
		case *ast.Link:
			lo, hi, ok := textSpan(l)
			if !ok {
				return ast.WalkSkipChildren, nil
			}
			start := bytes.LastIndexByte(source[:lo], '[')
			rel := bytes.IndexByte(source[hi:], ']')
			if start < 0 || rel < 0 {
				return ast.WalkSkipChildren, nil
			}
			end := linkEnd(source, hi+rel+1)
			cuts = append(cuts, cut{start, end, lo, hi})
			return ast.WalkSkipChildren, nil
		case *ast.AutoLink:
			if l.AutoLinkType == ast.AutoLinkURL {
				autolinks = append(autolinks, l.URL(source))
			}
			return ast.WalkSkipChildren, nil
		case *ast.Image:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	var b bytes.Buffer
	prev := 0
	for _, c := range cuts {
		if c.start < prev {
			continue
		}
		b.Write(source[prev:c.start])
		b.Write(source[c.textStart:c.textEnd])
		prev = c.end
	}
	b.Write(source[prev:])
	out := b.Bytes()
	// An autolink's position is not in the tree; its "<url>" form is
	// unique enough to replace by value.
	for _, u := range autolinks {
		out = bytes.ReplaceAll(out, []byte("<"+string(u)+">"), u)
	}
	return string(out)
}

// textSpan returns the source range of a node's text, from its first text
// descendant's start to its last one's stop.
func textSpan(n ast.Node) (lo, hi int, ok bool) {
	lo, hi = -1, -1
	ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) { //nolint:errcheck // the walker returns no error
		if t, isText := c.(*ast.Text); isText && entering {
			if lo < 0 || t.Segment.Start < lo {
				lo = t.Segment.Start
			}
			hi = max(hi, t.Segment.Stop)
		}
		return ast.WalkContinue, nil
	})
	return lo, hi, lo >= 0 && hi >= lo
}

// linkEnd returns where the destination part of a link that closes its
// text at i ends: after "(dest "title")" or "[ref]", or at i for a
// shortcut reference link.
func linkEnd(src []byte, i int) int {
	if i >= len(src) {
		return i
	}
	switch src[i] {
	case '(':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '\\':
				j++
			case '(':
				depth++
			case ')':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	case '[':
		if k := bytes.IndexByte(src[i:], ']'); k >= 0 {
			return i + k + 1
		}
	}
	return i
}

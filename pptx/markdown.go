package pptx

import (
	"net/url"
	"strconv"
	"strings"
)

// run is a piece of a paragraph with one formatting.
type run struct {
	text         string
	bold, italic bool
	link         string
}

// markdown renders a text body's paragraphs as Markdown: list items where
// the paragraph has a bullet (its own, or the placeholder's by default),
// at its level; paragraphs otherwise. Empty paragraphs only separate.
func markdown(body *node, bullets bool, rels relations) string {
	var b strings.Builder
	var widths [9]int // marker width of the last item at each level
	prevItem := false
	for _, p := range body.all("p") {
		text := paragraphMarkdown(p, rels)
		if strings.TrimSpace(text) == "" {
			continue
		}
		pPr := p.child("pPr")
		lvl, _ := strconv.Atoi(pPr.attrOr("lvl", "0"))
		lvl = min(max(lvl, 0), len(widths)-1)
		marker := ""
		switch {
		case pPr.child("buNone") != nil:
		case pPr.child("buAutoNum") != nil:
			marker = "1. "
		case pPr.child("buChar") != nil || pPr.child("buBlip") != nil || bullets:
			marker = "- "
		}
		if marker == "" {
			if b.Len() > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString(escapeStart(text))
			prevItem = false
			continue
		}
		if b.Len() > 0 {
			if prevItem {
				b.WriteString("\n")
			} else {
				b.WriteString("\n\n")
			}
		}
		indent := 0
		for l := range lvl {
			indent += max(widths[l], 2)
		}
		widths[lvl] = len(marker)
		b.WriteString(strings.Repeat(" ", indent) + marker + escapeStart(text))
		prevItem = true
	}
	return b.String()
}

// attrOr is attr with a default, also on a nil node.
func (n *node) attrOr(local, def string) string {
	if n == nil {
		return def
	}
	if v := n.attr(local); v != "" {
		return v
	}
	return def
}

// paragraphMarkdown renders a paragraph's runs, merging neighbours of the
// same formatting so emphasis is not split mid-word.
func paragraphMarkdown(p *node, rels relations) string {
	var runs []run
	for _, c := range p.children {
		var r run
		switch c.name {
		case "r", "fld":
			r.text = clean(c.child("t").textContent())
			rPr := c.child("rPr")
			r.bold, r.italic = on(rPr.attr("b")), on(rPr.attr("i"))
			if hl := rPr.child("hlinkClick"); hl != nil {
				if rl, ok := rels.byID[hl.relID("id")]; ok && rl.typ == relHyperlink && rl.external && httpURL(rl.target) {
					r.link = rl.target
				}
			}
		case "br":
			r.text = "\n"
		default:
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].bold == r.bold && runs[n-1].italic == r.italic && runs[n-1].link == r.link {
			runs[n-1].text += r.text
			continue
		}
		runs = append(runs, r)
	}
	var b strings.Builder
	for _, r := range runs {
		b.WriteString(format(r))
	}
	// A line break inside a paragraph is a hard break: backslash, newline.
	return strings.TrimSpace(strings.ReplaceAll(b.String(), "\n", "\\\n"))
}

func on(v string) bool { return v == "1" || v == "true" }

// format writes one run: escaped text, wrapped in emphasis and a link,
// with surrounding spaces outside the markers (Markdown ignores "** x**").
func format(r run) string {
	core := strings.TrimSpace(r.text)
	if core == "" {
		return r.text
	}
	lead := r.text[:strings.Index(r.text, core)]
	trail := r.text[len(lead)+len(core):]
	s := escape(core)
	switch {
	case r.bold && r.italic:
		s = "***" + s + "***"
	case r.bold:
		s = "**" + s + "**"
	case r.italic:
		s = "*" + s + "*"
	}
	if r.link != "" {
		s = "[" + s + "](" + linkDest(r.link) + ")"
	}
	return lead + s + trail
}

// escape backslash-escapes the characters that make Markdown inline
// syntax, so a slide's "2*3" or "<b>" is shown as written.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>&~|", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeStart escapes what would make a paragraph's start a heading, a
// list, a quote or a rule.
func escapeStart(s string) string {
	switch {
	case s == "":
		return s
	case strings.ContainsRune("#-+=>", rune(s[0])):
		return "\\" + s
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && (s[i] == '.' || s[i] == ')') {
		return s[:i] + "\\" + s[i:]
	}
	return s
}

func httpURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// linkDest writes a URL so that Markdown reads it whole.
func linkDest(u string) string {
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E").Replace(u)
}

// Package pptx reads PowerPoint files (.pptx, also as Google Slides
// exports them) into slides: a title, the text as Markdown (paragraphs,
// bullet levels, bold, italic, http/https links), the pictures in reading
// order and the speaker notes. Layout is not reproduced. The file is
// untrusted: the archive is opened with internal/safezip's limits and
// every XML part with a DOCTYPE refused and its depth bounded.
package pptx

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/safezip"
)

// ContentType is the media type of .pptx files.
const ContentType = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

// maxPartBytes bounds one XML part, unpacked: the largest slide of a real
// deck is a few hundred KiB.
const maxPartBytes = 8 << 20

// Relationship types, by their last path element (Office and Strict
// namespaces differ only before it).
const (
	relOfficeDocument = "officeDocument"
	relSlide          = "slide"
	relSlideLayout    = "slideLayout"
	relNotesSlide     = "notesSlide"
	relImage          = "image"
	relHyperlink      = "hyperlink"
	relCore           = "core-properties"
)

// Deck is what a presentation holds, in slide order.
type Deck struct {
	Title  string // the document's title property, often empty
	Slides []Slide
	// Pictures maps a picture's part name to its bytes as the file holds
	// them (unchecked: the caller puts them through the media pipeline).
	Pictures map[string][]byte
}

// Slide is one slide's content.
type Slide struct {
	Title    string
	Body     string   // Markdown
	Pictures []string // part names in Deck.Pictures, in reading order
	Notes    string   // plain text
}

// Parse reads a .pptx file. Returns EUNSUPPORTEDFILE for a file that is
// not a presentation, EINVALIDFILE for a damaged or unsafe one,
// EFILETOOLARGE for one over lim, and EINVALID (field "slides") for a
// presentation of more than maxSlides slides.
func Parse(data []byte, lim safezip.Limits, maxSlides int) (*Deck, error) {
	a, err := safezip.Open(data, lim)
	if err != nil {
		return nil, err
	}
	notPPTX := classboard.Errorf(classboard.EUNSUPPORTEDFILE, "The file is not a PowerPoint presentation (.pptx).")
	if !a.Has("[Content_Types].xml") || !a.Has("_rels/.rels") {
		return nil, notPPTX
	}
	r := &reader{a: a, layouts: map[string]map[string]position{}, deck: &Deck{Pictures: map[string][]byte{}}}
	root, err := r.rels("")
	if err != nil {
		return nil, err
	}
	presPath := root.first(relOfficeDocument)
	if presPath == "" || !strings.HasSuffix(presPath, ".xml") || !a.Has(presPath) {
		return nil, notPPTX
	}
	pres, err := r.xml(presPath)
	if err != nil {
		return nil, err
	}
	if pres.name != "presentation" {
		return nil, notPPTX
	}
	if core := root.first(relCore); core != "" && a.Has(core) {
		if doc, err := r.xml(core); err == nil {
			r.deck.Title = clean(doc.child("title").textContent())
		}
	}
	presRels, err := r.rels(presPath)
	if err != nil {
		return nil, err
	}
	ids := pres.path("sldIdLst").kids()
	if len(ids) > maxSlides {
		return nil, &classboard.Error{Code: classboard.EINVALID, Message: "The presentation has too many slides for one lesson.",
			Fields: map[string]string{"slides": "has more than " + strconv.Itoa(maxSlides) + " slides"}}
	}
	for _, id := range ids {
		rel, ok := presRels.byID[id.relID("id")]
		if !ok || rel.external || !a.Has(rel.target) {
			return nil, classboard.Errorf(classboard.EINVALIDFILE, "The presentation lists a slide the file lacks.")
		}
		s, err := r.slide(rel.target)
		if err != nil {
			return nil, err
		}
		r.deck.Slides = append(r.deck.Slides, s)
	}
	return r.deck, nil
}

type reader struct {
	a       *safezip.Archive
	deck    *Deck
	layouts map[string]map[string]position // layout part -> placeholder key -> position
}

func (r *reader) xml(part string) (*node, error) {
	data, err := r.a.Read(part, maxPartBytes)
	if err != nil {
		return nil, err
	}
	return parseXML(part, data)
}

type rel struct {
	typ, target string
	external    bool
}

type relations struct{ byID map[string]rel }

// first returns the target of the first relationship of a type, or "".
func (rs relations) first(typ string) string {
	var best string
	for id, r := range rs.byID {
		if r.typ == typ && !r.external && (best == "" || id < best) {
			best = id
		}
	}
	if best == "" {
		return ""
	}
	return rs.byID[best].target
}

// rels reads the relationships of part ("" for the package's own). A part
// without relationships has none; targets outside the archive are dropped.
func (r *reader) rels(part string) (relations, error) {
	dir, file := "", ""
	if i := strings.LastIndexByte(part, '/'); i >= 0 {
		dir, file = part[:i+1], part[i+1:]
	} else {
		file = part
	}
	name := dir + "_rels/" + file + ".rels"
	out := relations{byID: map[string]rel{}}
	if !r.a.Has(name) {
		return out, nil
	}
	doc, err := r.xml(name)
	if err != nil {
		return out, err
	}
	for _, n := range doc.children {
		t := n.attr("Type")
		rl := rel{typ: t[strings.LastIndexByte(t, '/')+1:], external: n.attr("TargetMode") == "External"}
		if rl.external {
			rl.target = n.attr("Target")
		} else if rl.target = safezip.Resolve(part, n.attr("Target")); rl.target == "" {
			continue
		}
		out.byID[n.attr("Id")] = rl
	}
	return out, nil
}

// position is where a shape's top left corner is, in EMU.
type position struct {
	x, y  int64
	known bool
}

func positionOf(n *node) position {
	for _, props := range []string{"spPr", "grpSpPr"} {
		if off := n.path(props, "xfrm", "off"); off != nil {
			return parsePosition(off)
		}
	}
	if off := n.path("xfrm", "off"); off != nil { // graphic frames
		return parsePosition(off)
	}
	return position{}
}

func parsePosition(off *node) position {
	x, errX := strconv.ParseInt(off.attr("x"), 10, 64)
	y, errY := strconv.ParseInt(off.attr("y"), 10, 64)
	return position{x: x, y: y, known: errX == nil && errY == nil}
}

// placeholder returns a shape's placeholder type and index; ok is false
// for a shape that is not a placeholder.
func placeholder(n *node) (typ, idx string, ok bool) {
	for _, nv := range []string{"nvSpPr", "nvPicPr", "nvGraphicFramePr"} {
		if ph := n.path(nv, "nvPr", "ph"); ph != nil {
			return ph.attr("type"), ph.attr("idx"), true
		}
	}
	return "", "", false
}

// layoutPositions returns where a layout puts its placeholders, so that a
// slide's placeholder without a position of its own is ordered where it
// is shown.
func (r *reader) layoutPositions(part string) map[string]position {
	if m, ok := r.layouts[part]; ok {
		return m
	}
	m := map[string]position{}
	r.layouts[part] = m
	doc, err := r.xml(part)
	if err != nil {
		return m // ordering only; the slide itself reads fine without it
	}
	for _, sp := range doc.all("sp") {
		typ, idx, ok := placeholder(sp)
		if p := positionOf(sp); ok && p.known {
			if idx != "" {
				m["idx:"+idx] = p
			}
			if typ != "" {
				m["type:"+typ] = p
			}
		}
	}
	return m
}

// shape is a text box or a picture of a slide.
type shape struct {
	pos     position
	order   int
	text    *node  // the element holding a:p paragraphs
	bullets bool   // paragraphs are list items unless they say otherwise
	picture string // part name of a picture
}

// skipped placeholders hold what the slide master repeats on every slide.
var skipped = map[string]bool{"dt": true, "ftr": true, "sldNum": true, "hdr": true}

func (r *reader) slide(part string) (Slide, error) {
	var s Slide
	doc, err := r.xml(part)
	if err != nil {
		return s, err
	}
	rels, err := r.rels(part)
	if err != nil {
		return s, err
	}
	var layout map[string]position
	if l := rels.first(relSlideLayout); l != "" && r.a.Has(l) {
		layout = r.layoutPositions(l)
	}
	var shapes []shape
	var titles []string
	var walk func(*node)
	walk = func(tree *node) {
		for _, n := range tree.kids() {
			sh := shape{pos: positionOf(n), order: len(shapes)}
			typ, idx, isPH := placeholder(n)
			if isPH && !sh.pos.known {
				if p, ok := layout["idx:"+idx]; ok && idx != "" {
					sh.pos = p
				} else if p, ok := layout["type:"+typ]; ok {
					sh.pos = p
				}
			}
			switch n.name {
			case "sp":
				body := n.child("txBody")
				switch {
				case body == nil || skipped[typ]:
				case typ == "title" || typ == "ctrTitle":
					titles = append(titles, paragraphsText(body))
				default:
					isTextBox := n.path("nvSpPr", "cNvSpPr").attr("txBox") == "1"
					sh.text, sh.bullets = body, isPH && !isTextBox && (typ == "" || typ == "body" || typ == "obj")
					shapes = append(shapes, sh)
				}
			case "pic":
				if embed := n.path("blipFill", "blip"); embed != nil {
					if rl, ok := rels.byID[embed.relID("embed")]; ok && rl.typ == relImage && !rl.external && r.a.Has(rl.target) {
						sh.picture = rl.target
						shapes = append(shapes, sh)
					}
				}
			case "graphicFrame":
				if tbl := n.all("tbl"); len(tbl) > 0 {
					sh.text = tbl[0]
					shapes = append(shapes, sh)
				}
			case "grpSp":
				walk(n)
			case "AlternateContent":
				if fb := n.child("Fallback"); fb != nil {
					walk(fb)
				}
			}
		}
	}
	walk(doc.path("cSld", "spTree"))
	// Reading order: top to bottom, then left to right; shapes whose
	// position is unknown keep their place after the others.
	slices.SortStableFunc(shapes, func(a, b shape) int {
		switch {
		case a.pos.known != b.pos.known:
			if a.pos.known {
				return -1
			}
			return 1
		case !a.pos.known:
			return cmp.Compare(a.order, b.order)
		}
		return cmp.Or(cmp.Compare(a.pos.y, b.pos.y), cmp.Compare(a.pos.x, b.pos.x), cmp.Compare(a.order, b.order))
	})
	s.Title = clean(strings.Join(slices.DeleteFunc(titles, func(t string) bool { return t == "" }), " "))
	var blocks []string
	for _, sh := range shapes {
		if sh.picture != "" {
			if _, seen := r.deck.Pictures[sh.picture]; !seen {
				data, err := r.a.Read(sh.picture, math.MaxInt64) // bounded by the archive's limits
				if err != nil {
					return s, err
				}
				r.deck.Pictures[sh.picture] = data
			}
			s.Pictures = append(s.Pictures, sh.picture)
			continue
		}
		if md := markdown(sh.text, sh.bullets, rels); md != "" {
			blocks = append(blocks, md)
		}
	}
	s.Body = strings.Join(blocks, "\n\n")
	if n := rels.first(relNotesSlide); n != "" && r.a.Has(n) {
		if s.Notes, err = r.notes(n); err != nil {
			return s, err
		}
	}
	return s, nil
}

// notes returns the text of a notes page's body placeholder.
func (r *reader) notes(part string) (string, error) {
	doc, err := r.xml(part)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, sp := range doc.all("sp") {
		if typ, _, ok := placeholder(sp); ok && typ == "body" {
			for _, p := range sp.all("p") {
				lines = append(lines, clean(plainText(p)))
			}
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n")), nil
}

// textContent is all character data under n.
func (n *node) textContent() string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(n.text.String())
	for _, c := range n.children {
		b.WriteString(c.textContent())
	}
	return b.String()
}

// plainText is a paragraph's text with its line breaks.
func plainText(p *node) string {
	var b strings.Builder
	for _, c := range p.children {
		switch c.name {
		case "r", "fld":
			b.WriteString(c.child("t").textContent())
		case "br":
			b.WriteString("\n")
		}
	}
	return b.String()
}

// paragraphsText joins a text body's paragraphs into one line (titles).
func paragraphsText(body *node) string {
	var parts []string
	for _, p := range body.all("p") {
		if t := strings.TrimSpace(clean(plainText(p))); t != "" {
			parts = append(parts, strings.ReplaceAll(t, "\n", " "))
		}
	}
	return strings.Join(parts, " ")
}

// clean replaces control characters (PowerPoint writes vertical tabs for
// soft breaks) by spaces, keeping line breaks.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\ufffe' || r == '\uffff':
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

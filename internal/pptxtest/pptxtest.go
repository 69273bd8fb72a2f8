// Package pptxtest builds .pptx files for tests: the parts PowerPoint and
// Google Slides write for the things classboard reads (titles, text with
// bullets and emphasis, pictures, speaker notes), in either's style.
package pptxtest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"strings"
)

// Deck is a presentation to build.
type Deck struct {
	Title  string // the core title property; none when ""
	Slides []Slide
	// Google writes the parts as a Google Slides export does: every
	// shape positioned and marked a text box, bullets and their absence
	// explicit, shapes named "Google Shape;…", notes in a body placeholder
	// with idx 1.
	Google bool
}

// Slide is one slide. Shapes are written in order; Top positions them
// (EMU from the top; 0 leaves the position to the layout).
type Slide struct {
	Shapes []Shape
	Notes  string
}

// Shape is a title, a text body, a text box or a picture.
type Shape struct {
	Kind    string // "title", "ctrTitle", "subTitle", "body", "textbox" or "picture"
	Top     int64
	Left    int64
	Paras   []Para
	Picture []byte // PNG bytes for "picture"
}

// Para is a paragraph; Level and Bullet make it a list item ("" follows
// the placeholder: bulleted in a body, not in a text box; "none", "char",
// "number" say so explicitly).
type Para struct {
	Level  int
	Bullet string
	Runs   []Run
}

// Run is text with one formatting.
type Run struct {
	Text         string
	Bold, Italic bool
	Link         string
}

// SolidPNG is a w×h PNG of one colour.
func SolidPNG(w, h int, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return b.Bytes()
}

// Text is a paragraph of one plain run.
func Text(s string) Para { return Para{Runs: []Run{{Text: s}}} }

// Build returns the .pptx file.
func Build(d Deck) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name, content string) {
		w, err := zw.Create(name)
		if err != nil {
			panic(err) // writing to memory cannot fail
		}
		w.Write([]byte(content)) //nolint:errcheck // writing to memory
	}
	putBytes := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			panic(err)
		}
		w.Write(data) //nolint:errcheck // writing to memory
	}
	var types, presRels, sldIDs strings.Builder
	types.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>`)
	rootRels := `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="ppt/presentation.xml"/>`
	if d.Title != "" {
		rootRels += `<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>`
		put("docProps/core.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>`+html.EscapeString(d.Title)+`</dc:title></cp:coreProperties>`)
	}
	put("_rels/.rels", rels(rootRels))
	put("ppt/slideLayouts/slideLayout1.xml", layoutXML)
	put("ppt/slideLayouts/_rels/slideLayout1.xml.rels", rels(""))
	presRels.WriteString(`<Relationship Id="rIdL" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slideMaster" Target="slideMasters/slideMaster1.xml"/>`)
	pic := 0
	for i, s := range d.Slides {
		n := i + 1
		fmt.Fprintf(&types, `<Override PartName="/ppt/slides/slide%d.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/>`, n)
		fmt.Fprintf(&presRels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide%d.xml"/>`, 100+n, n)
		fmt.Fprintf(&sldIDs, `<p:sldId id="%d" r:id="rId%d"/>`, 255+n, 100+n)
		slideRels := `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slideLayout" Target="../slideLayouts/slideLayout1.xml"/>`
		var tree strings.Builder
		links := 0
		for j, sh := range s.Shapes {
			name := fmt.Sprintf("Shape %d", j+1)
			if d.Google {
				name = fmt.Sprintf("Google Shape;%d;p%d", 50+j, n)
			}
			pos := ""
			if sh.Top != 0 || sh.Left != 0 || d.Google {
				pos = fmt.Sprintf(`<a:xfrm><a:off x="%d" y="%d"/><a:ext cx="8000000" cy="1000000"/></a:xfrm>`, sh.Left, sh.Top)
			}
			if sh.Kind == "picture" {
				pic++
				putBytes(fmt.Sprintf("ppt/media/image%d.png", pic), sh.Picture)
				slideRels += fmt.Sprintf(`<Relationship Id="rIdP%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="../media/image%d.png"/>`, pic, pic)
				fmt.Fprintf(&tree, `<p:pic><p:nvPicPr><p:cNvPr id="%d" name="%s"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr><p:blipFill><a:blip r:embed="rIdP%d"/><a:stretch><a:fillRect/></a:stretch></p:blipFill><p:spPr>%s<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>`, j+2, name, pic, pos)
				continue
			}
			nvPr := `<p:nvPr/>`
			cNv := `<p:cNvSpPr/>`
			switch sh.Kind {
			case "title", "ctrTitle", "subTitle":
				nvPr = `<p:nvPr><p:ph type="` + sh.Kind + `"/></p:nvPr>`
			case "body":
				nvPr = `<p:nvPr><p:ph idx="1"/></p:nvPr>`
				if d.Google {
					nvPr = `<p:nvPr><p:ph type="body" idx="1"/></p:nvPr>`
				}
			case "textbox":
				cNv = `<p:cNvSpPr txBox="1"/>`
			}
			if d.Google {
				// Google marks every text shape a text box, placeholders too,
				// and says each paragraph's bullet itself.
				cNv = `<p:cNvSpPr txBox="1"/>`
			}
			var paras strings.Builder
			for _, p := range sh.Paras {
				bullet := p.Bullet
				if d.Google && bullet == "" {
					if sh.Kind == "body" {
						bullet = "char"
					} else {
						bullet = "none"
					}
				}
				bu := map[string]string{"": "", "none": "<a:buNone/>", "char": `<a:buChar char="●"/>`, "number": `<a:buAutoNum type="arabicPeriod"/>`}[bullet]
				fmt.Fprintf(&paras, `<a:p><a:pPr lvl="%d" marL="%d" indent="-342900">%s</a:pPr>`, p.Level, 457200*(p.Level+1), bu)
				for _, r := range p.Runs {
					attrs := ` lang="en"`
					if r.Bold {
						attrs += ` b="1"`
					}
					if r.Italic {
						attrs += ` i="1"`
					}
					inner := ""
					if r.Link != "" {
						links++
						slideRels += fmt.Sprintf(`<Relationship Id="rIdH%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="%s" TargetMode="External"/>`, links, html.EscapeString(r.Link))
						inner = fmt.Sprintf(`<a:hlinkClick r:id="rIdH%d"/>`, links)
					}
					for k, line := range strings.Split(r.Text, "\n") {
						if k > 0 {
							paras.WriteString(`<a:br><a:rPr lang="en"/></a:br>`)
						}
						fmt.Fprintf(&paras, `<a:r><a:rPr%s>%s</a:rPr><a:t>%s</a:t></a:r>`, attrs, inner, html.EscapeString(line))
					}
				}
				paras.WriteString(`</a:p>`)
			}
			fmt.Fprintf(&tree, `<p:sp><p:nvSpPr><p:cNvPr id="%d" name="%s"/>%s%s</p:nvSpPr><p:spPr>%s</p:spPr><p:txBody><a:bodyPr/><a:lstStyle/>%s</p:txBody></p:sp>`, j+2, name, cNv, nvPr, pos, paras.String())
		}
		if s.Notes != "" {
			fmt.Fprintf(&types, `<Override PartName="/ppt/notesSlides/notesSlide%d.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.notesSlide+xml"/>`, n)
			slideRels += fmt.Sprintf(`<Relationship Id="rIdN" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide" Target="../notesSlides/notesSlide%d.xml"/>`, n)
			var np strings.Builder
			for _, line := range strings.Split(s.Notes, "\n") {
				fmt.Fprintf(&np, `<a:p><a:r><a:rPr lang="en"/><a:t>%s</a:t></a:r></a:p>`, html.EscapeString(line))
			}
			ph := `<p:ph type="body" idx="1"/>`
			put(fmt.Sprintf("ppt/notesSlides/notesSlide%d.xml", n), `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:notes `+ns+`><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>`+
				`<p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image"/><p:cNvSpPr/><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr><p:spPr/></p:sp>`+
				`<p:sp><p:nvSpPr><p:cNvPr id="3" name="Notes"/><p:cNvSpPr/><p:nvPr>`+ph+`</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>`+np.String()+`</p:txBody></p:sp>`+
				`</p:spTree></p:cSld></p:notes>`)
			put(fmt.Sprintf("ppt/notesSlides/_rels/notesSlide%d.xml.rels", n), rels(fmt.Sprintf(`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="../slides/slide%d.xml"/>`, n)))
		}
		put(fmt.Sprintf("ppt/slides/slide%d.xml", n), `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sld `+ns+`><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>`+tree.String()+`</p:spTree></p:cSld></p:sld>`)
		put(fmt.Sprintf("ppt/slides/_rels/slide%d.xml.rels", n), rels(slideRels))
	}
	types.WriteString(`</Types>`)
	put("[Content_Types].xml", types.String())
	put("ppt/presentation.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:presentation `+ns+`><p:sldIdLst>`+sldIDs.String()+`</p:sldIdLst><p:sldSz cx="9144000" cy="5143500"/></p:presentation>`)
	put("ppt/_rels/presentation.xml.rels", rels(presRels.String()))
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

const ns = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`

// layoutXML is a "title and content" layout: the title at the top, the
// body below it.
const layoutXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sldLayout ` + ns + `><p:cSld name="Title and Content"><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>` +
	`<p:sp><p:nvSpPr><p:cNvPr id="2" name="Title 1"/><p:cNvSpPr/><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="457200" y="274638"/><a:ext cx="8229600" cy="1143000"/></a:xfrm></p:spPr></p:sp>` +
	`<p:sp><p:nvSpPr><p:cNvPr id="3" name="Content Placeholder 2"/><p:cNvSpPr/><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="457200" y="1600200"/><a:ext cx="8229600" cy="4525963"/></a:xfrm></p:spPr></p:sp>` +
	`</p:spTree></p:cSld></p:sldLayout>`

func rels(body string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + body + `</Relationships>`
}

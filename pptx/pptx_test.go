package pptx_test

import (
	"archive/zip"
	"bytes"
	"image/color"
	"reflect"
	"strings"
	"testing"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/pptxtest"
	"github.com/classboard/classboard/internal/safezip"
	"github.com/classboard/classboard/pptx"
)

// sampleDeck has a title slide, a title-and-content slide with bullet
// levels, emphasis and a link, a slide whose title comes after its body
// in the file but above it on the slide, a picture slide with notes, and
// a text box that is not a list.
func sampleDeck(t testing.TB, google bool) pptxtest.Deck {
	red, blue := pptxtest.SolidPNG(64, 48, color.RGBA{200, 30, 30, 255}), pptxtest.SolidPNG(64, 48, color.RGBA{30, 30, 200, 255})
	return pptxtest.Deck{Title: "Volcanoes", Google: google, Slides: []pptxtest.Slide{
		{Shapes: []pptxtest.Shape{ // a title slide
			{Kind: "ctrTitle", Top: 1000000, Paras: []pptxtest.Para{pptxtest.Text("Volcanoes")}},
			{Kind: "subTitle", Top: 3000000, Paras: []pptxtest.Para{pptxtest.Text("Year 7 geography")}},
			{Kind: "textbox", Top: 4000000, Paras: []pptxtest.Para{pptxtest.Text("# not a heading")}},
		}},
		{Notes: "Start with the video.\nAsk who has seen one.", Shapes: []pptxtest.Shape{
			{Kind: "title", Paras: []pptxtest.Para{pptxtest.Text("How they form")}},
			{Kind: "body", Paras: []pptxtest.Para{
				{Runs: []pptxtest.Run{{Text: "Magma "}, {Text: "rises", Bold: true}, {Text: " through "}, {Text: "cracks", Italic: true}}},
				{Level: 1, Runs: []pptxtest.Run{{Text: "from the mantle"}}},
				{Level: 1, Runs: []pptxtest.Run{{Text: "at 2*3 km/s <fast>"}}},
				{Runs: []pptxtest.Run{{Text: "See "}, {Text: "the map", Link: "https://maps.example/volcanoes"}}},
				{Bullet: "none", Runs: []pptxtest.Run{{Text: "A closing line"}}},
			}},
		}},
		{Shapes: []pptxtest.Shape{
			{Kind: "textbox", Top: 2000000, Paras: []pptxtest.Para{pptxtest.Text("Below the title")}},
			{Kind: "picture", Top: 2500000, Left: 5000000, Picture: red},
			{Kind: "textbox", Top: 2500000, Left: 100000, Paras: []pptxtest.Para{{Bullet: "number", Runs: []pptxtest.Run{{Text: "first"}}}, {Bullet: "number", Runs: []pptxtest.Run{{Text: "second"}}}}},
			{Kind: "title", Top: 100000, Paras: []pptxtest.Para{pptxtest.Text("Order on the slide")}},
		}},
		{Notes: "Point at the crater.", Shapes: []pptxtest.Shape{
			{Kind: "picture", Top: 100, Picture: blue},
			{Kind: "picture", Top: 200, Picture: red},
		}},
	}}
}

func TestParseSlides(t *testing.T) {
	for _, google := range []bool{false, true} {
		name := "PowerPoint"
		if google {
			name = "Google Slides export"
		}
		t.Run(name, func(t *testing.T) {
			d, err := pptx.Parse(pptxtest.Build(sampleDeck(t, google)), safezip.DefaultLimits(), 200)
			if err != nil {
				t.Fatal(err)
			}
			want := []pptx.Slide{
				{Title: "Volcanoes", Body: "Year 7 geography\n\n\\# not a heading"},
				{Title: "How they form", Body: "- Magma **rises** through *cracks*\n  - from the mantle\n  - at 2\\*3 km/s \\<fast\\>\n- See [the map](https://maps.example/volcanoes)\n\nA closing line",
					Notes: "Start with the video.\nAsk who has seen one."},
				{Title: "Order on the slide", Body: "Below the title\n\n1. first\n1. second", Pictures: []string{"ppt/media/image1.png"}},
				{Pictures: []string{"ppt/media/image2.png", "ppt/media/image3.png"}, Notes: "Point at the crater."},
			}
			if d.Title != "Volcanoes" || len(d.Pictures) != 3 {
				t.Fatalf("title %q, %d pictures", d.Title, len(d.Pictures))
			}
			for i := range want {
				if !reflect.DeepEqual(d.Slides[i], want[i]) {
					t.Errorf("slide %d:\n got %#v\nwant %#v", i+1, d.Slides[i], want[i])
				}
			}
		})
	}
}

// zipOf builds an archive of name/content pairs, deflated.
func zipOf(t testing.TB, files ...string) []byte { return zipWith(t, zip.Deflate, files...) }

// zipWith builds an archive with a compression method: stored entries let
// the fuzzer change the XML itself.
func zipWith(t testing.TB, method uint16, files ...string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(files); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: files[i], Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withPart returns a valid deck with one part replaced or added.
func withPart(t testing.TB, name, content string) []byte {
	deck := pptxtest.Build(sampleDeck(t, false))
	zr, err := zip.NewReader(bytes.NewReader(deck), int64(len(deck)))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range zr.File {
		if f.Name == name {
			continue
		}
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		files = append(files, f.Name, b.String())
	}
	return zipOf(t, append(files, name, content)...)
}

func TestParseRefusesHostileFiles(t *testing.T) {
	lim := safezip.DefaultLimits()
	many := make([]string, 0, 2*(lim.MaxEntries+1))
	for i := range lim.MaxEntries + 1 {
		many = append(many, "f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"/"+strings.Repeat("y", i/26%50)+".xml", "")
	}
	deep := `<?xml version="1.0"?><p:sld xmlns:p="p"><p:cSld><p:spTree>` + strings.Repeat("<p:grpSp>", 200) + strings.Repeat("</p:grpSp>", 200) + `</p:spTree></p:cSld></p:sld>`
	billion := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><p:sld xmlns:p="p"><p:cSld><p:spTree><a:t>&lol2;</a:t></p:spTree></p:cSld></p:sld>`
	external := `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><p:sld xmlns:p="p">&xxe;</p:sld>`
	for _, tc := range []struct {
		name string
		data []byte
		code string
	}{
		{"not a zip", []byte("%PDF-1.7 not a presentation"), classboard.EUNSUPPORTEDFILE},
		{"empty", nil, classboard.EUNSUPPORTEDFILE},
		{"a zip that is not a presentation", zipOf(t, "hello.txt", "hi"), classboard.EUNSUPPORTEDFILE},
		{"a Word document", zipOf(t, "[Content_Types].xml", "<Types/>", "_rels/.rels", `<Relationships><Relationship Id="r" Type="x/officeDocument" Target="word/document.xml"/></Relationships>`, "word/document.xml", "<w:document xmlns:w='w'/>"), classboard.EUNSUPPORTEDFILE},
		{"too many entries", zipOf(t, many...), classboard.EFILETOOLARGE},
		{"compression ratio of a bomb", zipOf(t, "[Content_Types].xml", "<Types/>", "ppt/media/bomb.png", strings.Repeat("\x00", 4<<20)), classboard.EFILETOOLARGE},
		{"path traversal", zipOf(t, "[Content_Types].xml", "<Types/>", "../../etc/cron.d/x", "* * * * * root sh"), classboard.EINVALIDFILE},
		{"absolute path", zipOf(t, "/etc/passwd", "root"), classboard.EINVALIDFILE},
		{"backslash path", zipOf(t, "ppt\\..\\..\\x", "x"), classboard.EINVALIDFILE},
		{"entity expansion", withPart(t, "ppt/slides/slide1.xml", billion), classboard.EINVALIDFILE},
		{"external entity", withPart(t, "ppt/slides/slide1.xml", external), classboard.EINVALIDFILE},
		{"deep nesting", withPart(t, "ppt/slides/slide1.xml", deep), classboard.EINVALIDFILE},
		{"too many elements", withPart(t, "ppt/slides/slide1.xml", `<p:sld xmlns:p="p">`+strings.Repeat("<a:t/>", 100_001)+`</p:sld>`), classboard.EINVALIDFILE},
		{"malformed XML", withPart(t, "ppt/slides/slide2.xml", "<p:sld><p:cSld></p:sld>"), classboard.EINVALIDFILE},
		{"a slide the file lacks", withPart(t, "ppt/_rels/presentation.xml.rels", `<Relationships><Relationship Id="rId101" Type="x/slide" Target="slides/nope.xml"/></Relationships>`), classboard.EINVALIDFILE},
		{"relationship out of the archive", withPart(t, "ppt/_rels/presentation.xml.rels", `<Relationships><Relationship Id="rId101" Type="x/slide" Target="../../../etc/passwd"/></Relationships>`), classboard.EINVALIDFILE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pptx.Parse(tc.data, lim, 200)
			if got := classboard.ErrorCode(err); got != tc.code {
				t.Fatalf("got %v (%s), want %s", err, got, tc.code)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	deck := pptxtest.Build(sampleDeck(t, false))
	for _, tc := range []struct {
		name string
		lim  func(*safezip.Limits)
		max  int
		code string
	}{
		{"more slides than a lesson holds", func(*safezip.Limits) {}, 3, classboard.EINVALID},
		{"one entry too large", func(l *safezip.Limits) { l.MaxEntryBytes = 1000 }, 200, classboard.EFILETOOLARGE},
		{"all entries too large", func(l *safezip.Limits) { l.MaxTotalBytes = 5000 }, 200, classboard.EFILETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := safezip.DefaultLimits()
			tc.lim(&lim)
			if _, err := pptx.Parse(deck, lim, tc.max); classboard.ErrorCode(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

// A header that claims fewer bytes than the entry holds is caught while
// reading: archive/zip refuses the mismatch, the limit stops a lie.
func TestParseEntryThatLiesAboutItsSize(t *testing.T) {
	data := pptxtest.Build(sampleDeck(t, false))
	name := []byte("ppt/slides/slide2.xml")
	i := bytes.Index(data, append([]byte{}, name...))
	// The local header's and the directory's uncompressed size sit 4
	// bytes before the name length; change both occurrences.
	for i >= 0 {
		h := i - 30
		if bytes.Equal(data[h:h+4], []byte("PK\x03\x04")) {
			data[h+22], data[h+23], data[h+24], data[h+25] = 10, 0, 0, 0
		} else if h2 := i - 46; h2 >= 0 && bytes.Equal(data[h2:h2+4], []byte("PK\x01\x02")) {
			data[h2+24], data[h2+25], data[h2+26], data[h2+27] = 10, 0, 0, 0
		}
		next := bytes.Index(data[i+1:], name)
		if next < 0 {
			break
		}
		i += 1 + next
	}
	if _, err := pptx.Parse(data, safezip.DefaultLimits(), 200); classboard.ErrorCode(err) != classboard.EINVALIDFILE && classboard.ErrorCode(err) != classboard.EFILETOOLARGE {
		t.Fatalf("got %v", err)
	}
}

// The parser never panics and never answers with anything but a client
// error on any input.
func FuzzParse(f *testing.F) {
	f.Add(pptxtest.Build(sampleDeck(f, false)))
	f.Add(pptxtest.Build(sampleDeck(f, true)))
	f.Add(zipOf(f, "[Content_Types].xml", "<Types/>", "_rels/.rels", "<Relationships/>"))
	f.Add([]byte("PK\x03\x04"))
	f.Add(minimal(f, `<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId r:id="s1"/></p:sldIdLst></p:presentation>`,
		`<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>x</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>`))
	lim := safezip.DefaultLimits()
	lim.MaxTotalBytes = 8 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := pptx.Parse(data, lim, 200)
		if err != nil {
			if code := classboard.ErrorCode(err); code == classboard.EINTERNAL {
				t.Fatalf("internal error for a bad file: %v", err)
			}
			return
		}
		for _, s := range d.Slides {
			for _, p := range s.Pictures {
				if _, ok := d.Pictures[p]; !ok {
					t.Fatalf("slide names picture %q that the deck lacks", p)
				}
			}
		}
	})
}

// minimal is the smallest presentation Parse reads, with slide1's XML as
// given: parts need not have what PowerPoint always writes.
func minimal(t testing.TB, presentation, slide string) []byte {
	return zipWith(t, zip.Store,
		"[Content_Types].xml", "<Types/>",
		"_rels/.rels", `<Relationships><Relationship Id="r1" Type="x/officeDocument" Target="ppt/presentation.xml"/></Relationships>`,
		"ppt/presentation.xml", presentation,
		"ppt/_rels/presentation.xml.rels", `<Relationships><Relationship Id="s1" Type="x/slide" Target="slides/slide1.xml"/></Relationships>`,
		"ppt/slides/slide1.xml", slide)
}

// Elements a file may leave out (a run without properties, a slide
// without a shape tree, a presentation without slides) read as empty.
func TestParseSparseParts(t *testing.T) {
	const pres = `<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="s1"/></p:sldIdLst></p:presentation>`
	for _, tc := range []struct {
		name, pres, slide string
		want              []pptx.Slide
	}{
		{"no slide list", `<p:presentation xmlns:p="p"/>`, `<p:sld/>`, nil},
		{"no shape tree", pres, `<p:sld xmlns:p="p"/>`, []pptx.Slide{{}}},
		{"bare run and text box", pres, `<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>plain</a:t></a:r></a:p></p:txBody></p:sp>` +
			`<p:pic><p:blipFill><a:blip r:embed="missing" xmlns:r="r"/></p:blipFill></p:pic></p:spTree></p:cSld></p:sld>`, []pptx.Slide{{Body: "plain"}}},
		{"group, alternate content and a table", pres, `<p:sld xmlns:p="p" xmlns:a="a" xmlns:mc="mc"><p:cSld><p:spTree>` +
			`<p:grpSp><p:grpSpPr><a:xfrm><a:off x="0" y="500"/></a:xfrm></p:grpSpPr><p:sp><p:spPr><a:xfrm><a:off x="0" y="600"/></a:xfrm></p:spPr><p:txBody><a:p><a:r><a:t>in a group</a:t></a:r></a:p></p:txBody></p:sp></p:grpSp>` +
			`<mc:AlternateContent><mc:Choice Requires="x"><p:sp><p:txBody><a:p><a:r><a:t>choice</a:t></a:r></a:p></p:txBody></p:sp></mc:Choice>` +
			`<mc:Fallback><p:sp><p:spPr><a:xfrm><a:off x="0" y="100"/></a:xfrm></p:spPr><p:txBody><a:p><a:r><a:t>fallback</a:t></a:r></a:p></p:txBody></p:sp></mc:Fallback></mc:AlternateContent>` +
			`<p:graphicFrame><p:xfrm><a:off x="0" y="900"/></p:xfrm><a:graphic><a:graphicData><a:tbl><a:tr><a:tc><a:txBody><a:p><a:r><a:t>cell one</a:t></a:r></a:p></a:txBody></a:tc>` +
			`<a:tc><a:txBody><a:p><a:r><a:t>cell two</a:t></a:r></a:p></a:txBody></a:tc></a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>` +
			`</p:spTree></p:cSld></p:sld>`, []pptx.Slide{{Body: "fallback\n\nin a group\n\ncell one\n\ncell two"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := pptx.Parse(minimal(t, tc.pres, tc.slide), safezip.DefaultLimits(), 200)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Slides, tc.want) {
				t.Fatalf("got %#v, want %#v", d.Slides, tc.want)
			}
		})
	}
}

// Package pdftest writes small PDF files for tests: 16:9 pages, each with
// a line of text and a drawing (a red rectangle and a blue line), written
// by hand (a PDF of this kind is a few objects and a cross-reference
// table).
package pdftest

import (
	"bytes"
	"fmt"
	"strings"
)

// Build returns a PDF of pages pages; page n says "Page n: " + title.
func Build(pages int, title string) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	// 1: catalog, 2: page tree, 3: font, then per page a page and its content.
	kids := make([]string, pages)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	esc := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`)
	for i := range pages {
		content := fmt.Sprintf("BT /F1 40 Tf 60 460 Td (%s) Tj ET\n"+
			"1 0 0 rg 60 80 360 300 re f\n"+
			"0 0 1 RG 12 w 480 120 m 900 400 l S\n",
			esc.Replace(fmt.Sprintf("Page %d: %s", i+1, title)))
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/pdftest"
	"github.com/classboard/classboard/internal/testcluster"
)

// BenchmarkBrowserImportPDF40 imports a 40-page PDF through the teacher
// app: PDF.js draws each page at 1920×1080 and uploads it, then the
// lesson is made. Run with -benchtime=1x: each run is one whole import.
func BenchmarkBrowserImportPDF40(b *testing.B) {
	n := testcluster.StartNode(b)
	br := browsertest.Start(b)
	p := br.NewPage()
	signedIn(b, p, n.URL())
	path := writeFile(b, "forty.pdf", pdftest.Build(40, "Forty pages"))
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		importFile(b, p, n.URL(), path)
		b.ReportMetric(float64(time.Since(start).Milliseconds())/40, "ms/page")
	}
	p.Do(chromedp.Navigate("about:blank"))
}

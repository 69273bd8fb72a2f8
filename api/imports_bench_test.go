package api_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/pptxtest"
	"github.com/classboard/classboard/internal/testcluster"
)

// photo is a 1280×720 JPEG that compresses like a photo: gradients with
// a little noise, different for each seed.
func photo(b testing.TB, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	for y := range 720 {
		for x := range 1280 {
			n := uint8((x*7 + y*13 + seed*31) % 17)
			img.Set(x, y, color.RGBA{uint8(x/5+seed*9) + n, uint8(y/3) + n, uint8((x+y)/8+seed) + n, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkImportPPTX40 imports a 40-slide presentation with a 1280×720
// photo, a title and bullets on every slide, into an in-process node.
// Run with -benchtime=1x: each run imports the file once, as a new
// teacher, so every picture is stored.
func BenchmarkImportPPTX40(b *testing.B) {
	var deck pptxtest.Deck
	for i := range 40 {
		deck.Slides = append(deck.Slides, pptxtest.Slide{Notes: fmt.Sprintf("Notes for slide %d", i+1), Shapes: []pptxtest.Shape{
			{Kind: "title", Paras: []pptxtest.Para{pptxtest.Text(fmt.Sprintf("Slide %d", i+1))}},
			{Kind: "body", Paras: []pptxtest.Para{pptxtest.Text("First point"), {Level: 1, Runs: []pptxtest.Run{{Text: "detail", Bold: true}}}, pptxtest.Text("Second point")}},
			{Kind: "picture", Top: 3000000, Left: 5000000, Picture: photo(b, i)},
		}})
	}
	file := pptxtest.Build(deck)
	n := testcluster.StartNode(b)
	c := apitest.New(n.URL())
	c.HTTP.Timeout = 5 * time.Minute
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		token := teacherToken(b, c, fmt.Sprintf("Teacher %d", i), "laptop")
		b.StartTimer()
		start := time.Now()
		res := c.With(token).Do(b, "POST", "/api/v1/lessons/import", file, "Content-Type", pptxType)
		if res.Status != 201 {
			b.Fatalf("import: %d %s", res.Status, res.Body)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds())/40, "ms/slide")
		b.ReportMetric(float64(len(file))/(1<<20), "MiB/file")
	}
}

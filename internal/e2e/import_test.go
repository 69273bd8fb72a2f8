package e2e

import (
	"context"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/pdftest"
	"github.com/classboard/classboard/internal/pptxtest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// writeFile puts data in the test's temporary folder under name.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// watchImportStatus records every text the import status shows, so a
// test sees progress that passes too fast to poll.
const watchImportStatus = `(() => { window.importSeen = []; const s = document.getElementById('import-status');
	new MutationObserver(() => window.importSeen.push(s.textContent)).observe(s, { childList: true, characterData: true, subtree: true });
	return null; })()`

// importFile picks a file in the lesson list's importer and waits for the
// editor of the new lesson; it returns the lesson id.
func importFile(t testing.TB, p *browsertest.Page, base, path string) string {
	t.Helper()
	p.Do(chromedp.Navigate(base+"/#/lessons"), chromedp.WaitVisible(chromedp.CSS("#import-pick")))
	browsertest.Get(p, chromedp.Evaluate[any](watchImportStatus))
	p.Do(chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{path}))
	done := `/^#\/lessons\/[0-9a-f-]{36}$/.test(location.hash) && !!document.querySelector('#lesson-title')`
	ctx, cancel := context.WithTimeout(p.Ctx(), 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](done)); err != nil {
		t.Fatalf("import of %s: %v; the importer said %q", filepath.Base(path), err, browsertest.Get(p, chromedp.Evaluate[[]string](`window.importSeen || []`)))
	}
	return strings.TrimPrefix(browsertest.Get(p, chromedp.Evaluate[string](`location.hash`)), "#/lessons/")
}

// classroom starts a node, a board showing its pairing code at 1080p and
// a signed-in teacher.
func classroom(t *testing.T) (n *node.Node, board, teacher *browsertest.Page, code, token string) {
	n, board, teacher, code = boardShowingCode(t)
	return n, board, teacher, code, signedIn(t, teacher, n.URL())
}

// boardShowingCode starts a node, a board showing its pairing code at
// 1080p, and a teacher's page that has not signed in yet.
func boardShowingCode(t *testing.T) (n *node.Node, board, teacher *browsertest.Page, code string) {
	n = testcluster.StartNode(t)
	b := browsertest.Start(t)
	board, teacher = b.NewPage(), b.NewPage()
	board.Do(chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(n.URL()+"/board"))
	return n, board, teacher, boardCode(board)
}

// screenshots saves the page at laptop and phone size, then goes back to
// the tests' laptop size.
func screenshots(p *browsertest.Page, name string) {
	p.Screenshot(name+"-laptop", browsertest.Laptop)
	p.Screenshot(name+"-phone", browsertest.Phone)
	p.Do(chromedp.EmulateViewport(1280, 800))
}

// pairFromHome pairs the board showing code from the teacher's home page
// and returns the present view's address.
func pairFromHome(p *browsertest.Page, base, code string) string {
	p.Do(chromedp.Navigate(base + "/#/"))
	p.Do(typeCode(code)...)
	return browsertest.Get(p, chromedp.Evaluate[string](`location.href`))
}

// present picks a lesson in the present view.
func present(p *browsertest.Page, lessonID string) {
	p.Do(chromedp.WaitVisible(chromedp.CSS("#link.ok")), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`(() => { const s = document.getElementById('lesson'); s.value = `+strconv.Quote(lessonID)+`;
			s.dispatchEvent(new Event('change')); return null; })()`)(ctx, tg)
		return err
	}))
}

// boardPicture waits until the board shows slide n as a loaded picture and
// returns how many of its pixels are red and how many dark (text), read
// back from a canvas (the picture is same-origin).
func boardPicture(p *browsertest.Page, n int) (width, red, dark int) {
	sel := `#stage[data-slide="` + strconv.Itoa(n) + `"] .slide-picture img`
	browsertest.Get(p, chromedp.Poll[bool](`(() => { const i = document.querySelector('`+sel+`'); return !!(i && i.complete && i.naturalWidth > 0); })()`))
	got := browsertest.Get(p, chromedp.Evaluate[[]int](`(() => { const i = document.querySelector('`+sel+`');
		const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
		const g = c.getContext('2d'); g.drawImage(i, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
		let red = 0, dark = 0;
		for (let k = 0; k < d.length; k += 4) {
			if (d[k] > 200 && d[k+1] < 60 && d[k+2] < 60) red++;
			if (d[k] < 80 && d[k+1] < 80 && d[k+2] < 80) dark++;
		}
		return [i.naturalWidth, red, dark]; })()`))
	return got[0], got[1], got[2]
}

// A teacher imports a PDF (drawn in the browser with PDF.js) and a .pptx
// (read by the server) and presents each on a paired board, which shows
// the pages and slides; speaker notes show in the present view only.
func TestBrowserImportPDFAndPPTXAndPresent(t *testing.T) {
	n, board, teacher, code, _ := classroom(t)

	pdfLesson := importFile(t, teacher, n.URL(), writeFile(t, "Volcanoes.pdf", pdftest.Build(3, "Volcanoes")))
	seen := browsertest.Get(teacher, chromedp.Evaluate[[]string](`window.importSeen || []`))
	if !strings.Contains(strings.Join(seen, "|"), "Page 3 of 3") {
		t.Fatalf("import progress showed %q", seen)
	}
	if got := browsertest.Get(teacher, chromedp.Value(chromedp.CSS("#lesson-title"))); got != "Volcanoes" {
		t.Fatalf("PDF lesson title %q", got)
	}
	teacher.Screenshot("import-pdf-editor-laptop", browsertest.Laptop)
	teacher.Do(chromedp.EmulateViewport(1280, 800))

	deck := pptxtest.Build(pptxtest.Deck{Slides: []pptxtest.Slide{
		{Shapes: []pptxtest.Shape{{Kind: "title", Paras: []pptxtest.Para{pptxtest.Text("Rocks and minerals")}}}},
		{Notes: "Pass the samples round.", Shapes: []pptxtest.Shape{
			{Kind: "title", Paras: []pptxtest.Para{pptxtest.Text("Three kinds")}},
			{Kind: "body", Paras: []pptxtest.Para{
				{Runs: []pptxtest.Run{{Text: "Igneous", Bold: true}, {Text: " from magma"}}},
				{Level: 1, Runs: []pptxtest.Run{{Text: "granite"}}},
				pptxtest.Text("Sedimentary"), pptxtest.Text("Metamorphic"),
			}},
			{Kind: "picture", Top: 4000000, Left: 5000000, Picture: pptxtest.SolidPNG(160, 120, color.RGBA{220, 20, 20, 255})},
		}},
	}})
	pptxLesson := importFile(t, teacher, n.URL(), writeFile(t, "Rocks.pptx", deck))
	if got := browsertest.Get(teacher, chromedp.Value(chromedp.CSS("#lesson-title"))); got != "Rocks" {
		t.Fatalf("pptx lesson title %q", got)
	}
	teacher.Do(chromedp.Click(chromedp.CSS("#slide-list li:nth-child(2) .slide-pick")), chromedp.WaitVisible(chromedp.CSS("#preview .slide-body strong")))
	if got := browsertest.Get(teacher, chromedp.Value(chromedp.CSS("#slide-notes"))); got != "Pass the samples round." {
		t.Fatalf("notes field %q", got)
	}
	screenshots(teacher, "import-pptx-editor")

	// Pair the board and present the PDF: each page is a picture with the
	// page's drawing (red) and text (dark), drawn to fit a 1080p board.
	presentURL := pairFromHome(teacher, n.URL(), code)
	present(teacher, pdfLesson)
	for slide := range 3 {
		if slide > 0 {
			teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="`+strconv.Itoa(slide-1)+`"]`)), chromedp.WaitVisible(chromedp.CSS("#next:not([disabled])")), chromedp.Click(chromedp.CSS("#next")))
		}
		width, red, dark := boardPicture(board, slide)
		if width != 1920 || red < 10000 || dark < 100 {
			t.Fatalf("board page %d: %d px wide, %d red and %d dark pixels", slide+1, width, red, dark)
		}
	}
	board.Screenshot("board-pdf-page", browsertest.Board)

	// Present the pptx: its text, and the picture beside it; notes only in
	// the present view.
	teacher.Do(chromedp.Navigate(presentURL), chromedp.WaitVisible(chromedp.CSS("#present-title")))
	present(teacher, pptxLesson)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide-frame`)))
	if got := browsertest.Get(board, chromedp.Text(chromedp.CSS("#stage"))); !strings.Contains(got, "Rocks and minerals") {
		t.Fatalf("board shows %q on the pptx's first slide", got)
	}
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"]`)), chromedp.WaitVisible(chromedp.CSS("#next:not([disabled])")), chromedp.Click(chromedp.CSS("#next")))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-beside .slide-picture img`)))
	text := browsertest.Get(board, chromedp.Text(chromedp.CSS("#stage")))
	for _, want := range []string{"Three kinds", "Igneous from magma", "granite", "Metamorphic"} {
		if !strings.Contains(text, want) {
			t.Fatalf("board shows %q, without %q", text, want)
		}
	}
	if strings.Contains(text, "samples") {
		t.Fatalf("board shows speaker notes: %q", text)
	}
	if _, red, _ := boardPicture(board, 1); red < 1000 {
		t.Fatalf("pptx picture on the board has %d red pixels", red)
	}
	teacher.Do(chromedp.WaitVisible(chromedp.CSS("#speaker-notes")))
	if got := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#speaker-notes"))); got != "Pass the samples round." {
		t.Fatalf("present view notes %q", got)
	}
	board.Screenshot("board-pptx-slide", browsertest.Board)
	screenshots(teacher, "present-notes")
}

// A PDF that cannot be read, or has more pages than a lesson holds, is
// refused before anything is stored; cancelling an import removes what it
// uploaded.
func TestBrowserPDFImportRefusalsAndCancel(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	teacher := b.NewPage()
	token := signedIn(t, teacher, n.URL())
	c := apitest.New(n.URL()).With(token)
	nothingStored := func(when string) {
		t.Helper()
		for _, path := range []string{"/api/v1/lessons", "/api/v1/media"} {
			if items := c.Do(t, "GET", path, nil).Map(t)["items"].([]any); len(items) != 0 {
				t.Fatalf("%s: %s holds %d items", when, path, len(items))
			}
		}
	}
	status := func() string { return browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#import-status"))) }

	for _, tc := range []struct{ name, file, want string }{
		{"unreadable", writeFile(t, "broken.pdf", []byte("%PDF-1.4\nthis is not really a PDF\n")), "This PDF cannot be read"},
		{"too long", writeFile(t, "long.pdf", pdftest.Build(201, "Too long")), "This PDF has 201 pages; a lesson holds at most 200."},
		{"not a lesson file", writeFile(t, "notes.txt", []byte("hello")), "Choose a PDF, a PowerPoint file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			teacher.Do(chromedp.Navigate(n.URL()+"/#/lessons"), chromedp.WaitVisible(chromedp.CSS("#import-pick")),
				chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{tc.file}))
			browsertest.Get(teacher, chromedp.Poll[bool](`document.querySelector('#import-status').textContent.startsWith(`+strconv.Quote(tc.want)+`)`))
			nothingStored(tc.name)
		})
	}
	teacher.Screenshot("import-refused-laptop", browsertest.Laptop)
	teacher.Do(chromedp.EmulateViewport(1280, 800))

	// Cancel while pages are uploading.
	teacher.Do(chromedp.Navigate(n.URL()+"/#/lessons"), chromedp.WaitVisible(chromedp.CSS("#import-pick")),
		chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{writeFile(t, "long.pdf", pdftest.Build(40, "Cancel me"))}))
	browsertest.Get(teacher, chromedp.Poll[bool](`/^Page ([3-9]|\d\d) of 40$/.test(document.querySelector('#import-status').textContent)`))
	teacher.Screenshot("import-progress-phone", browsertest.Phone)
	teacher.Do(chromedp.Click(chromedp.CSS("#import-cancel")))
	browsertest.Get(teacher, chromedp.Poll[bool](`document.querySelector('#import-status').textContent === 'Import cancelled; nothing was kept.'`))
	if got := status(); got != "Import cancelled; nothing was kept." {
		t.Fatalf("status %q", got)
	}
	nothingStored("after cancel")
}

// A text slide with a picture above its text and a link: the teacher's
// preview opens the link in a new tab; the board shows it as text, and a
// slide that is only a link gets its QR code on the board.
func TestBrowserRicherSlides(t *testing.T) {
	n, board, teacher, code, token := classroom(t)
	c := apitest.New(n.URL()).With(token)
	pic := c.Do(t, "POST", "/api/v1/media", pptxtest.SolidPNG(160, 120, color.RGBA{20, 120, 220, 255}), "Content-Type", "image/png").Map(t)["id"].(string)
	res := c.Do(t, "POST", "/api/v1/lessons", map[string]any{"title": "Oceans", "slides": []map[string]any{
		{"kind": "text", "title": "The Atlantic", "body": "Read [the atlas](https://atlas.example/atlantic) tonight.", "media_id": pic, "layout": "below"},
		{"kind": "text", "title": "Quiz", "body": "Scan to answer:\n\n[the quiz](https://quiz.example/oceans)"},
	}})
	if res.Status != 201 {
		t.Fatalf("create lesson: %d %s", res.Status, res.Body)
	}
	id := res.Map(t)["id"].(string)

	teacher.Do(chromedp.Navigate(n.URL()+"/#/lessons/"+id), chromedp.WaitVisible(chromedp.CSS("#preview .slide-below .slide-picture img")))
	link := browsertest.Get(teacher, chromedp.Evaluate[[]string](`(() => { const a = document.querySelector('#preview .slide-body a');
		return a ? [a.href, a.target, a.rel] : []; })()`))
	if len(link) != 3 || link[0] != "https://atlas.example/atlantic" || link[1] != "_blank" || !strings.Contains(link[2], "noopener") {
		t.Fatalf("preview link %q", link)
	}
	if got := browsertest.Get(teacher, chromedp.Value(chromedp.CSS("#slide-layout"))); got != "below" {
		t.Fatalf("layout choice %q", got)
	}
	// Export fetches the lesson file with the session and hands it to the
	// browser as a download.
	browsertest.Get(teacher, chromedp.Evaluate[any](`(() => { window.exported = null; const orig = URL.createObjectURL;
		URL.createObjectURL = (b) => { window.exported = b.size + ' ' + b.type; return orig(b); }; return null; })()`))
	teacher.Do(chromedp.Click(chromedp.CSS("#export-lesson")))
	browsertest.Get(teacher, chromedp.Poll[bool](`document.querySelector('#save-status').textContent === 'Exported.'`))
	if got := browsertest.Get(teacher, chromedp.Evaluate[string](`window.exported`)); !strings.HasSuffix(got, " application/zip") {
		t.Fatalf("exported %q", got)
	}
	screenshots(teacher, "editor-picture-below")
	pairFromHome(teacher, n.URL(), code)
	present(teacher, id)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide-below .slide-picture img`)))
	if got := browsertest.Get(board, chromedp.Evaluate[int](`document.querySelectorAll('#stage a').length`)); got != 0 {
		t.Fatalf("board has %d clickable links", got)
	}
	if got := browsertest.Get(board, chromedp.Text(chromedp.CSS("#stage .slide-linktext"))); got != "the atlas" {
		t.Fatalf("board link text %q", got)
	}
	board.Screenshot("board-picture-below", browsertest.Board)
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"]`)), chromedp.WaitVisible(chromedp.CSS("#next:not([disabled])")), chromedp.Click(chromedp.CSS("#next")))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-featured img.slide-qr`)))
	board.Screenshot("board-featured-link", browsertest.Board)
}

package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
)

// signedIn signs a teacher up over the API and puts the session token
// where the teacher app keeps it.
func signedIn(t testing.TB, p *browsertest.Page, base string) string {
	t.Helper()
	c := apitest.New(base)
	body := map[string]string{"email": "ada@school.example", "password": "analytical engine", "name": "Ada Lovelace"}
	if res := c.Do(t, "POST", "/api/v1/accounts", body); res.Status != 201 {
		t.Fatalf("sign up: %d %s", res.Status, res.Body)
	}
	res := c.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": body["email"], "password": body["password"], "device": "laptop"})
	if res.Status != 201 {
		t.Fatalf("log in: %d %s", res.Status, res.Body)
	}
	token := res.Map(t)["token"].(string)
	p.Do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-email")))
	browsertest.Get(p, chromedp.Evaluate[any](`localStorage.setItem('classboard.token', '`+token+`')`))
	// Leave the app, so that the next navigation loads it afresh (a hash
	// change alone would not read the token).
	p.Do(chromedp.Navigate("about:blank"))
	return token
}

// leafPNG is a small green picture with a darker stripe.
func leafPNG(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for y := range 200 {
		for x := range 320 {
			c := color.RGBA{60, 160, 70, 255}
			if y > 90 && y < 110 {
				c = color.RGBA{30, 90, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "leaf.png")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pictureShown waits until the preview shows a loaded picture.
const pictureShown = `(() => { const i = document.querySelector('#preview .slide-picture img'); return !!(i && i.complete && i.naturalWidth > 0); })()`

// A teacher makes a lesson with a text slide and an uploaded picture,
// saves it, reloads, and sees both in the preview; an edit made elsewhere
// meanwhile is reported, not overwritten.
func TestBrowserLessonWithTextAndPicture(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	p := b.NewPage()
	token := signedIn(t, p, n.URL())

	p.Do(chromedp.Navigate(n.URL()+"/#/lessons"), chromedp.WaitVisible(chromedp.CSS("#new-lesson")))
	p.Screenshot("lesson-list-empty-phone", browsertest.Phone)
	p.Do(chromedp.EmulateViewport(1280, 800))
	p.Do(
		chromedp.Click(chromedp.CSS("#new-lesson")),
		chromedp.WaitVisible(chromedp.CSS("#lesson-title")),
		chromedp.SendKeys(chromedp.CSS("#lesson-title"), "Photosynthesis"),
		chromedp.Click(chromedp.CSS("#add-text")),
		chromedp.WaitVisible(chromedp.CSS("#slide-title")),
		chromedp.WaitVisible(chromedp.CSS("#preview .lesson-preview-empty")),
	)
	// An empty slide's preview asks the server nothing: the request could
	// only fail (a 400 in the console on every new slide).
	if n := browsertest.Get(p, chromedp.Evaluate[float64](`performance.getEntriesByType('resource').filter((e) => e.name.includes('/lessons/preview')).length`)); n != 0 {
		t.Fatalf("%v preview requests for an empty slide", n)
	}
	p.Do(
		chromedp.SendKeys(chromedp.CSS("#slide-title"), "How plants eat"),
		chromedp.SendKeys(chromedp.CSS("#slide-body"), "Plants make *sugar* from:\n\n- light\n- water"),
		chromedp.WaitVisible(chromedp.CSS("#preview .slide-body li")),
		chromedp.Click(chromedp.CSS("#add-image")),
		chromedp.WaitVisible(chromedp.CSS("#slide-file")),
		chromedp.SetUploadFiles(chromedp.CSS("#slide-file"), []string{leafPNG(t)}),
	)
	browsertest.Get(p, chromedp.Poll[bool](pictureShown))
	p.Do(chromedp.SendKeys(chromedp.CSS("#slide-caption"), "A leaf"), chromedp.Click(chromedp.CSS("#save-lesson")))
	browsertest.Get(p, chromedp.Poll[bool](`document.querySelector('#save-status').dataset.state === 'saved'`))
	p.Screenshot("lesson-editor-laptop", browsertest.Laptop)
	p.Screenshot("lesson-editor-phone", browsertest.Phone)
	p.Do(chromedp.EmulateViewport(1024, 768))

	// After a reload everything comes from the server.
	p.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#preview .slide-body em")))
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#preview .slide-title"))); got != "How plants eat" {
		t.Fatalf("text slide title %q", got)
	}
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#preview .slide-body em"))); got != "sugar" {
		t.Fatalf("emphasis %q", got)
	}
	if got := browsertest.Get(p, chromedp.Value(chromedp.CSS("#lesson-title"))); got != "Photosynthesis" {
		t.Fatalf("lesson title %q", got)
	}
	p.Do(chromedp.Click(chromedp.CSS("#slide-list li:nth-child(2) .slide-pick")))
	browsertest.Get(p, chromedp.Poll[bool](pictureShown))
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#preview .slide-caption"))); got != "A leaf" {
		t.Fatalf("caption %q", got)
	}
	p.Screenshot("lesson-preview-picture", browsertest.Laptop)

	// Someone changes the lesson on another device; saving here reports it.
	c := apitest.New(n.URL()).With(token)
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	c.Do(t, "GET", "/api/v1/lessons", nil).JSON(t, &page)
	path := "/api/v1/lessons/" + page.Items[0].ID
	cur := c.Do(t, "GET", path, nil)
	var doc map[string]any
	cur.JSON(t, &doc)
	doc["title"] = "Photosynthesis (from the tablet)"
	if res := c.Do(t, "PUT", path, doc, "If-Match", cur.Header.Get("ETag")); res.Status != 200 {
		t.Fatalf("edit elsewhere: %d %s", res.Status, res.Body)
	}
	p.Do(
		chromedp.SendKeys(chromedp.CSS("#lesson-title"), " and light"),
		chromedp.Click(chromedp.CSS("#save-lesson")),
		chromedp.WaitVisible(chromedp.CSS("#conflict")),
	)
	p.Screenshot("lesson-conflict", browsertest.Laptop)
	p.Do(chromedp.Click(chromedp.CSS("#conflict-reload")), chromedp.WaitNotVisible(chromedp.CSS("#conflict")))
	if got := browsertest.Get(p, chromedp.Value(chromedp.CSS("#lesson-title"))); got != "Photosynthesis (from the tablet)" {
		t.Fatalf("after loading the other version: %q", got)
	}

	// The list shows the lesson.
	p.Do(chromedp.Navigate(n.URL()+"/#/lessons"), chromedp.WaitVisible(chromedp.CSS("#lesson-list .lesson-name")))
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#lesson-list .lesson-name"))); got != "Photosynthesis (from the tablet)" {
		t.Fatalf("list shows %q", got)
	}
	p.Screenshot("lesson-list-phone", browsertest.Phone)
}

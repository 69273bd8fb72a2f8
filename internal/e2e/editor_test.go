package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// textLesson creates a lesson of text slides titled by titles.
func textLesson(t *testing.T, c *apitest.Client, title string, titles ...string) string {
	t.Helper()
	slides := []map[string]any{}
	for _, s := range titles {
		slides = append(slides, map[string]any{"kind": "text", "title": s})
	}
	res := c.Do(t, "POST", "/api/v1/lessons", map[string]any{"title": title, "slides": slides})
	if res.Status != 201 {
		t.Fatalf("create lesson: %d %s", res.Status, res.Body)
	}
	return res.Map(t)["id"].(string)
}

// serverLesson returns a lesson's title and its slides' titles (or kinds)
// as the server has them.
func serverLesson(t *testing.T, c *apitest.Client, id string) string {
	t.Helper()
	var l struct {
		Title  string `json:"title"`
		Slides []struct {
			Kind, Title string
		} `json:"slides"`
	}
	c.Do(t, "GET", "/api/v1/lessons/"+id, nil).JSON(t, &l)
	out := []string{}
	for _, s := range l.Slides {
		out = append(out, s.Title+s.Kind[:0])
	}
	return l.Title + ": " + strings.Join(out, ",")
}

// teacherAtNode starts a node and a browser page of a signed-in teacher,
// and returns the teacher's API client.
func teacherAtNode(t *testing.T) (*node.Node, *browsertest.Page, *apitest.Client) {
	n := testcluster.StartNode(t)
	p := browsertest.Start(t).NewPage()
	token := signedIn(t, p, n.URL())
	return n, p, apitest.New(n.URL()).With(token)
}

// openEditor loads the app afresh on a lesson's editor.
func openEditor(p *browsertest.Page, base, id string) {
	p.Do(chromedp.Navigate(base+"/#/lessons/"+id), chromedp.WaitVisible(chromedp.CSS("#lesson-title")))
}

const slideTitlesJS = `[...document.querySelectorAll('#slide-list .slide-sum')].map((e) => e.textContent).join(',')`

// typeAtEnd types text at the end of an input, as a person clicking
// after its text would.
func typeAtEnd(selector, text string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{chromedp.Focus(chromedp.CSS(selector)),
		run(`document.querySelector(` + strconv.Quote(selector) + `).setSelectionRange(1e6, 1e6)`),
		chromedp.KeyEvent(text)}
}

// saveState waits until the editor says state (saved, offline, blocked...).
func saveState(p *browsertest.Page, state string) {
	browsertest.Get(p, chromedp.Poll[bool](`document.querySelector('#save-status').dataset.state === `+strconv.Quote(state)))
}

// onServer waits until the server has want for lesson id.
func onServer(t *testing.T, c *apitest.Client, id, want string) {
	t.Helper()
	poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if got := serverLesson(t, c, id); got != want {
			return fmt.Errorf("server has %q, want %q", got, want)
		}
		return nil
	})
}

// dialogs accepts every beforeunload question the page asks and counts them.
func dialogs(t *testing.T, p *browsertest.Page) *atomic.Int32 {
	var n atomic.Int32
	ctx, cancel := context.WithCancel(p.Ctx())
	t.Cleanup(cancel)
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.Type == page.DialogTypeBeforeunload {
				n.Add(1)
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return &n
}

// Edits reach the server by themselves, and a reload shows them. An edit
// that cannot be saved yet (a new slide still empty) makes a reload ask
// first, and after it the edit is back from the draft on this device,
// then saved once the slide is filled in.
func TestBrowserEditorAutosaveSurvivesReload(t *testing.T) {
	n, p, c := teacherAtNode(t)
	id := textLesson(t, c, "Rivers", "Source", "Mouth")
	asked := dialogs(t, p)

	openEditor(p, n.URL(), id)
	saveState(p, "saved")
	p.Do(typeAtEnd("#lesson-title", " of Europe")...)
	saveState(p, "saved")
	onServer(t, c, id, "Rivers of Europe: Source,Mouth")
	p.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#lesson-title")))
	if got := browsertest.Get(p, chromedp.Value(chromedp.CSS("#lesson-title"))); got != "Rivers of Europe" {
		t.Fatalf("after a reload the title is %q", got)
	}
	if got := browsertest.Get(p, chromedp.Evaluate[string](`document.title`)); got != `Editing "Rivers of Europe" – classboard` {
		t.Fatalf("the tab's title is %q", got)
	}
	if asked.Load() != 0 {
		t.Fatal("a reload with everything saved asked before leaving")
	}

	p.Do(chromedp.Click(chromedp.CSS("#add-text")), chromedp.WaitVisible(chromedp.CSS("#slide-title")))
	p.Do(typeAtEnd("#lesson-title", " and Asia")...)
	saveState(p, "blocked")
	p.Screenshot("editor-blocked-laptop", browsertest.Laptop)
	p.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#lesson-title")))
	if asked.Load() != 1 {
		t.Fatalf("a reload with unsaved work asked %d times, want once", asked.Load())
	}
	if got := browsertest.Get(p, chromedp.Value(chromedp.CSS("#lesson-title"))); got != "Rivers of Europe and Asia" {
		t.Fatalf("after a reload with unsaved work the title is %q", got)
	}
	if got := browsertest.Get(p, chromedp.Evaluate[string](slideTitlesJS)); got != "Source,Mouth,Empty" {
		t.Fatalf("after a reload with unsaved work the slides are %q", got)
	}
	p.Do(chromedp.Click(chromedp.CSS("#slide-list li:nth-child(3) .slide-pick")), chromedp.WaitVisible(chromedp.CSS("#slide-title")),
		chromedp.SendKeys(chromedp.CSS("#slide-title"), "Delta"))
	saveState(p, "saved")
	onServer(t, c, id, "Rivers of Europe and Asia: Source,Mouth,Delta")
	if got := browsertest.Get(p, chromedp.Evaluate[int](`Object.keys(localStorage).filter((k) => k.startsWith('classboard.draft.')).length`)); got != 0 {
		t.Fatalf("%d drafts left on the device after saving", got)
	}
}

// With the server gone, the editor says the work is kept on this device,
// and saves it by itself when the server is back.
func TestBrowserEditorKeepsWorkWhileTheServerIsDown(t *testing.T) {
	dir, addr := t.TempDir(), testcluster.FreeAddr(t)
	onAddr := func(c *node.Config) { c.Addr = addr }
	n := testcluster.StartNodeAt(t, dir, onAddr)
	b := browsertest.Start(t)
	p := b.NewPage()
	token := signedIn(t, p, n.URL())
	api := apitest.New(n.URL()).With(token)
	id := textLesson(t, api, "Volcanoes", "Lava")
	openEditor(p, n.URL(), id)
	saveState(p, "saved")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p.Do(typeAtEnd("#lesson-title", " and ash")...)
	saveState(p, "offline")
	p.Screenshot("editor-offline-laptop", browsertest.Laptop)
	p.Screenshot("editor-offline-phone", browsertest.Phone)
	testcluster.StartNodeAt(t, dir, onAddr)
	saveState(p, "saved")
	onServer(t, api, id, "Volcanoes and ash: Lava")
}

// Leaving the editor (a nav link, logging out) with work that cannot be
// saved asks; staying keeps the editor and its address.
func TestBrowserEditorAsksBeforeLeavingUnsavedWork(t *testing.T) {
	n, p, c := teacherAtNode(t)
	id := textLesson(t, c, "Weather", "Clouds")
	openEditor(p, n.URL(), id)
	saveState(p, "saved")

	// Everything saved: leaving asks nothing.
	p.Do(chromedp.Click(chromedp.CSS(`#nav a[href="#/lessons"]`)), chromedp.WaitVisible(chromedp.CSS("#lesson-list")))
	p.Do(chromedp.Click(chromedp.CSS("#lesson-list .lesson-link")), chromedp.WaitVisible(chromedp.CSS("#lesson-title")))
	p.Do(chromedp.Click(chromedp.CSS("#add-link")), chromedp.WaitVisible(chromedp.CSS("#slide-url")))
	saveState(p, "blocked")

	p.Do(chromedp.Click(chromedp.CSS(`#nav a[href="#/lessons"]`)), chromedp.WaitVisible(chromedp.CSS("#leave")))
	p.Screenshot("editor-leave-phone", browsertest.Phone)
	p.Screenshot("editor-leave-laptop", browsertest.Laptop)
	p.CheckAccessible("leave question")
	p.Do(chromedp.Click(chromedp.CSS("#leave-cancel")), chromedp.WaitNotPresent(chromedp.CSS("#leave")))
	if hash := browsertest.Get(p, chromedp.Evaluate[string](`location.hash`)); hash != "#/lessons/"+id {
		t.Fatalf("after staying the address is %q", hash)
	}
	p.Do(chromedp.WaitVisible(chromedp.CSS("#slide-url")))

	p.Do(chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#leave")))
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#leave"))); !strings.Contains(got, "lost") {
		t.Fatalf("logging out with unsaved work says %q", got)
	}
	p.Do(chromedp.Click(chromedp.CSS("#leave-cancel")), chromedp.WaitNotPresent(chromedp.CSS("#leave")), chromedp.WaitVisible(chromedp.CSS("#slide-url")))

	p.Do(chromedp.Click(chromedp.CSS(`#nav a[href="#/lessons"]`)), chromedp.WaitVisible(chromedp.CSS("#leave-confirm")),
		chromedp.Click(chromedp.CSS("#leave-confirm")), chromedp.WaitVisible(chromedp.CSS("#lesson-list")))
	// The unsaved slide is kept on this device: opening the lesson again
	// brings it back.
	p.Do(chromedp.Click(chromedp.CSS("#lesson-list .lesson-link")), chromedp.WaitVisible(chromedp.CSS("#lesson-title")))
	if got := browsertest.Get(p, chromedp.Evaluate[string](slideTitlesJS)); got != "Clouds,Empty" {
		t.Fatalf("back in the editor the slides are %q", got)
	}

	// Meanwhile the lesson changes on another device: the next opening
	// here asks which version to keep instead of overwriting either.
	cur := c.Do(t, "GET", "/api/v1/lessons/"+id, nil)
	if res := c.Do(t, "PUT", "/api/v1/lessons/"+id, map[string]any{"title": "Weather (tablet)", "slides": []any{map[string]any{"kind": "text", "title": "Rain"}}},
		"If-Match", cur.Header.Get("ETag")); res.Status != 200 {
		t.Fatalf("edit elsewhere: %d %s", res.Status, res.Body)
	}
	asked := dialogs(t, p)
	p.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#conflict-reload")))
	if asked.Load() != 1 {
		t.Fatalf("reloading with unsaved work asked %d times", asked.Load())
	}
	saveState(p, "conflict")
	p.Do(chromedp.Click(chromedp.CSS("#conflict-reload")), chromedp.WaitNotVisible(chromedp.CSS("#conflict")))
	if got := browsertest.Get(p, chromedp.Evaluate[string](slideTitlesJS)); got != "Rain" {
		t.Fatalf("after loading the other version the slides are %q", got)
	}
	p.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#lesson-title")))
	saveState(p, "saved")
	if got := browsertest.Get(p, chromedp.Value(chromedp.CSS("#lesson-title"))); got != "Weather (tablet)" {
		t.Fatalf("the other version did not stay: %q", got)
	}
}

// center returns the middle of the element selector matches.
func center(p *browsertest.Page, selector string) (x, y float64) {
	r := browsertest.Get(p, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector(`+strconv.Quote(selector)+`).getBoundingClientRect();
		return [r.left + r.width / 2, r.top + r.height / 2, r.top]; })()`))
	return r[0], r[1]
}

// drag presses the mouse on from, moves it in steps to the upper part of
// to and lets go, as a person dragging would.
func drag(p *browsertest.Page, from, to string) {
	x0, y0 := center(p, from)
	x1, y1 := center(p, to)
	y1 -= 8
	actions := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x0, y0, chromedp.ButtonLeft, chromedp.ClickCount(1))}
	for i := 1; i <= 12; i++ {
		f := float64(i) / 12
		actions = append(actions, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*f, y0+(y1-y0)*f, chromedp.ButtonLeft), chromedp.Sleep(16*time.Millisecond))
	}
	actions = append(actions, chromedp.MouseEvent(chromedp.MouseReleased, x1, y1, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	p.Do(actions...)
}

// Slides are reordered by dragging their handle (SortableJS) and by the
// keyboard on the arrow buttons, and duplicated; the server gets each.
func TestBrowserEditorReordersAndDuplicatesSlides(t *testing.T) {
	n, p, c := teacherAtNode(t)
	id := textLesson(t, c, "Order", "A", "B", "C")
	openEditor(p, n.URL(), id)
	saveState(p, "saved")
	browsertest.Get(p, chromedp.Poll[bool](`!!window.Sortable`))

	// Keyboard: Enter on "move down" twice walks slide A to the end, the
	// focus going with it.
	p.Do(chromedp.Focus(chromedp.CSS("#slide-list li:nth-child(1) .move-down")), chromedp.KeyEvent(kb.Enter))
	if got := browsertest.Get(p, chromedp.Evaluate[string](slideTitlesJS)); got != "B,A,C" {
		t.Fatalf("after one move down: %q", got)
	}
	p.Do(chromedp.KeyEvent(kb.Enter))
	if got := browsertest.Get(p, chromedp.Evaluate[string](slideTitlesJS)); got != "B,C,A" {
		t.Fatalf("after two moves down: %q", got)
	}
	// Alt+arrow on a slide itself moves it too.
	p.Do(chromedp.Focus(chromedp.CSS("#slide-list li:nth-child(2) .slide-pick")), chromedp.KeyEvent(kb.ArrowDown, chromedp.KeyModifiers(chromedp.ModifierAlt)))
	if got := browsertest.Get(p, chromedp.Evaluate[string](slideTitlesJS)); got != "B,A,C" {
		t.Fatalf("after Alt+ArrowDown on C: %q", got)
	}
	if got := browsertest.Get(p, chromedp.Evaluate[string](`document.activeElement.closest('li') === document.querySelector('#slide-list li:nth-child(3)') && document.querySelector('#slide-moved').textContent`)); got != "Slide moved to place 3." {
		t.Fatalf("after Alt+ArrowDown the focus or the announcement is wrong: %q", got)
	}
	p.Do(chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierAlt)))
	browsertest.Get(p, chromedp.Poll[bool](slideTitlesJS+` === 'B,C,A'`))
	saveState(p, "saved")
	onServer(t, c, id, "Order: B,C,A")

	// Drag: A's handle onto the first place.
	drag(p, "#slide-list li:nth-child(3) .slide-drag", "#slide-list li:nth-child(1)")
	browsertest.Get(p, chromedp.Poll[bool](slideTitlesJS+` === 'A,B,C'`))
	saveState(p, "saved")
	onServer(t, c, id, "Order: A,B,C")
	p.Screenshot("editor-slides-laptop", browsertest.Laptop)
	p.Screenshot("editor-slides-phone", browsertest.Phone)
	p.Screenshot("editor-slides-board", browsertest.Board)
	p.CheckAccessible("editor with slides")
	p.Do(chromedp.EmulateViewport(1280, 800))

	// Duplicate B: the copy follows it and is selected.
	p.Do(chromedp.Click(chromedp.CSS("#slide-list li:nth-child(2) .slide-duplicate")))
	browsertest.Get(p, chromedp.Poll[bool](slideTitlesJS+` === 'A,B,B,C'`))
	if got := browsertest.Get(p, chromedp.Evaluate[string](`document.querySelector('#slide-list li.selected .slide-no').textContent`)); got != "3" {
		t.Fatalf("selected after duplicating: slide %s", got)
	}
	saveState(p, "saved")
	onServer(t, c, id, "Order: A,B,B,C")
}

// Deleting a lesson says which boards show it, and after confirming the
// board on the wall stops showing it; duplicating opens a copy with the
// same slides.
func TestBrowserEditorDeletesAndDuplicatesLessons(t *testing.T) {
	n, board, p, code, token := classroom(t)
	c := apitest.New(n.URL()).With(token)
	id := textLesson(t, c, "Magnets", "North", "South")

	// The board in room 12 shows the lesson's second slide.
	res := c.Do(t, "POST", "/api/v1/pairings", map[string]string{"code": code, "name": "Room 12"})
	if res.Status != 201 {
		t.Fatalf("pair: %d %s", res.Status, res.Body)
	}
	statePath := "/api/v1/boards/" + res.Map(t)["board_id"].(string) + "/state"
	cur := c.Do(t, "GET", statePath, nil)
	if res := c.Do(t, "PUT", statePath, map[string]any{"lesson_id": id, "slide": 1}, "If-Match", cur.Header.Get("ETag")); res.Status != 200 {
		t.Fatalf("steer: %d %s", res.Status, res.Body)
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-frame`)))

	openEditor(p, n.URL(), id)
	saveState(p, "saved")
	p.Do(chromedp.Click(chromedp.CSS("#duplicate-lesson")))
	browsertest.Get(p, chromedp.Poll[bool](`location.hash !== '#/lessons/`+id+`' && document.querySelector('#lesson-title')?.value === 'Copy of Magnets'`))
	if got := browsertest.Get(p, chromedp.Evaluate[string](slideTitlesJS)); got != "North,South" {
		t.Fatalf("the copy's slides: %q", got)
	}
	copyID := strings.TrimPrefix(browsertest.Get(p, chromedp.Evaluate[string](`location.hash`)), "#/lessons/")
	onServer(t, c, copyID, "Copy of Magnets: North,South")

	openEditor(p, n.URL(), id)
	p.Do(chromedp.Click(chromedp.CSS("#delete-lesson")), chromedp.WaitVisible(chromedp.CSS("#lesson-delete")))
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#lesson-delete"))); !strings.Contains(got, "Room 12") {
		t.Fatalf("the delete question does not name the board showing the lesson: %q", got)
	}
	p.Screenshot("editor-delete-laptop", browsertest.Laptop)
	p.Screenshot("editor-delete-phone", browsertest.Phone)
	p.CheckAccessible("lesson delete question")
	p.Do(chromedp.EmulateViewport(1280, 800))
	p.Do(chromedp.Click(chromedp.CSS("#lesson-delete-cancel")), chromedp.WaitNotPresent(chromedp.CSS("#lesson-delete")))
	if res := c.Do(t, "GET", "/api/v1/lessons/"+id, nil); res.Status != 200 {
		t.Fatalf("cancelled, yet the lesson is %d", res.Status)
	}
	p.Do(chromedp.Click(chromedp.CSS("#delete-lesson")), chromedp.WaitVisible(chromedp.CSS("#lesson-delete-confirm")),
		chromedp.Click(chromedp.CSS("#lesson-delete-confirm")), chromedp.WaitVisible(chromedp.CSS("#lesson-list")))
	if res := c.Do(t, "GET", "/api/v1/lessons/"+id, nil); res.Status != 404 {
		t.Fatalf("deleted, yet the lesson is %d", res.Status)
	}
	// The board hears of it live and shows the slide no more.
	browsertest.Get(board, chromedp.Poll[bool](`!document.querySelector('#stage .slide-frame') && !document.querySelector('#stage').textContent.includes('South')`))
	board.Screenshot("board-after-lesson-deleted", browsertest.Board)
	if got := browsertest.Get(p, chromedp.Evaluate[string](lessonNamesJS)); got != "Copy of Magnets" {
		t.Fatalf("the list after deleting: %q", got)
	}

	// The list duplicates (opening the copy) and deletes too.
	p.Do(chromedp.Click(chromedp.CSS(`#lesson-list li[data-id="` + copyID + `"] .lesson-duplicate`)))
	browsertest.Get(p, chromedp.Poll[bool](`document.querySelector('#lesson-title')?.value === 'Copy of Copy of Magnets'`))
	p.Do(chromedp.Click(chromedp.CSS(`#nav a[href="#/lessons"]`)), chromedp.WaitVisible(chromedp.CSS(`#lesson-list li[data-id="`+copyID+`"]`)))
	screenshots(p, "lesson-list-actions")
	p.CheckAccessible("lesson list with lessons")
	p.Do(chromedp.EmulateViewport(1280, 800))
	p.Do(chromedp.Click(chromedp.CSS(`#lesson-list li[data-id="`+copyID+`"] .lesson-delete`)), chromedp.WaitVisible(chromedp.CSS("#lesson-delete-confirm")))
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#lesson-delete"))); !strings.Contains(got, "No board is showing it") {
		t.Fatalf("deleting a lesson no board shows says %q", got)
	}
	p.Do(chromedp.Click(chromedp.CSS("#lesson-delete-confirm")), chromedp.WaitNotPresent(chromedp.CSS(`#lesson-list li[data-id="`+copyID+`"]`)))
	if got := browsertest.Get(p, chromedp.Evaluate[string](lessonNamesJS)); got != "Copy of Copy of Magnets" {
		t.Fatalf("the list after deleting from it: %q", got)
	}
	if res := c.Do(t, "GET", "/api/v1/lessons/"+copyID, nil); res.Status != 404 {
		t.Fatalf("deleted from the list, yet the lesson is %d", res.Status)
	}
}

const lessonNamesJS = `[...document.querySelectorAll('#lesson-list .lesson-name')].map((e) => e.textContent).join(',')`

// A picture uploaded before is picked from the library onto a new slide;
// deleting a picture a lesson uses warns with the number of lessons, and
// an unused one goes after a plain question.
func TestBrowserEditorPictureLibrary(t *testing.T) {
	n, p, c := teacherAtNode(t)
	used := uploadPicture(t, []string{n.URL()}, c.Token, 40)
	spare := uploadPicture(t, []string{n.URL()}, c.Token, 200)
	id := textLesson(t, c, "Colours", "Blue")

	openEditor(p, n.URL(), id)
	p.Do(chromedp.Click(chromedp.CSS("#add-image")), chromedp.Click(chromedp.CSS("#open-library")),
		chromedp.WaitVisible(chromedp.CSS(`#library li[data-id="`+used+`"] img[src]`)),
		chromedp.WaitVisible(chromedp.CSS(`#library li[data-id="`+spare+`"] img[src]`)))
	p.Screenshot("editor-library-laptop", browsertest.Laptop)
	p.Screenshot("editor-library-phone", browsertest.Phone)
	p.CheckAccessible("picture library")
	p.Do(chromedp.EmulateViewport(1280, 800))
	p.Do(chromedp.Click(chromedp.CSS(`#library li[data-id="`+used+`"] .library-pick`)), chromedp.WaitNotPresent(chromedp.CSS("#library")))
	browsertest.Get(p, chromedp.Poll[bool](pictureShown))
	saveState(p, "saved")
	var l struct {
		Slides []struct {
			MediaID string `json:"media_id"`
		} `json:"slides"`
	}
	c.Do(t, "GET", "/api/v1/lessons/"+id, nil).JSON(t, &l)
	if len(l.Slides) != 2 || l.Slides[1].MediaID != used {
		t.Fatalf("the server's slides after picking: %+v", l.Slides)
	}

	// The picked picture is used by one lesson now: deleting it warns so.
	p.Do(chromedp.Click(chromedp.CSS("#open-library")),
		chromedp.WaitVisible(chromedp.CSS(`#library li[data-id="`+used+`"] .library-delete`)))
	poll.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		// The count comes from the node's view, current within a second.
		p.Do(chromedp.Click(chromedp.CSS(`#library li[data-id="`+used+`"] .library-delete`)), chromedp.WaitVisible(chromedp.CSS("#picture-delete")))
		got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#picture-delete")))
		p.Do(chromedp.Click(chromedp.CSS("#picture-delete-cancel")), chromedp.WaitNotPresent(chromedp.CSS("#picture-delete")))
		if !strings.Contains(got, "1 lesson uses it") {
			p.Do(chromedp.Click(chromedp.CSS("#library-close")), chromedp.WaitNotPresent(chromedp.CSS("#library")),
				chromedp.Click(chromedp.CSS("#open-library")), chromedp.WaitVisible(chromedp.CSS(`#library li[data-id="`+used+`"] .library-delete`)))
			return fmt.Errorf("deleting a used picture says %q", got)
		}
		return nil
	})
	p.Do(chromedp.Click(chromedp.CSS(`#library li[data-id="`+spare+`"] .library-delete`)), chromedp.WaitVisible(chromedp.CSS("#picture-delete")))
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#picture-delete"))); !strings.Contains(got, "No lesson uses it") {
		t.Fatalf("deleting an unused picture says %q", got)
	}
	p.Screenshot("editor-picture-delete-laptop", browsertest.Laptop)
	p.CheckAccessible("picture delete question")
	p.Do(chromedp.EmulateViewport(1280, 800))
	p.Do(chromedp.Click(chromedp.CSS("#picture-delete-confirm")),
		chromedp.WaitNotPresent(chromedp.CSS(`#library li[data-id="`+spare+`"]`)))
	if res := c.Do(t, "GET", "/api/v1/media/"+spare, nil); res.Status != 404 {
		t.Fatalf("the deleted picture answers %d", res.Status)
	}
	if res := c.Do(t, "GET", "/api/v1/media/"+used, nil); res.Status != 200 {
		t.Fatalf("the kept picture answers %d", res.Status)
	}
}

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
)

// signUpInBrowser creates an account through the teacher app.
func signUpInBrowser(p *browsertest.Page, base, name, email string) {
	p.Do(chromedp.Navigate(base+"/#/signup"), chromedp.WaitVisible(chromedp.CSS("#signup-name")),
		chromedp.SendKeys(chromedp.CSS("#signup-name"), name),
		chromedp.SendKeys(chromedp.CSS("#signup-email"), email),
		chromedp.SendKeys(chromedp.CSS("#signup-password"), "analytical engine"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#greeting")))
}

func boardCode(p *browsertest.Page) string {
	p.Do(chromedp.WaitVisible(chromedp.CSS("#code")))
	return strings.ReplaceAll(browsertest.Get(p, chromedp.Text(chromedp.CSS("#code"))), " ", "")
}

// The classroom flow: the board shows a code, the teacher types it, steers,
// the board survives a reload, and forgetting it brings a new code.
func TestBrowserPairByCodeAndSteer(t *testing.T) {
	n, board, teacher, code := boardShowingCode(t)
	if len(code) != 6 {
		t.Fatalf("board shows code %q", code)
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS("#qr")))
	board.Screenshot("board-code", browsertest.Board)

	signUpInBrowser(teacher, n.URL(), "Ada Lovelace", "ada@school.example")
	token := browsertest.Get(teacher, chromedp.Evaluate[string](`localStorage.getItem('classboard.token')`))
	res := apitest.New(n.URL()).With(token).Do(t, "POST", "/api/v1/lessons", map[string]any{"title": "Fractions", "slides": []map[string]string{
		{"kind": "text", "title": "What is a fraction?", "body": "A part of a whole."},
		{"kind": "text", "title": "Halves and quarters", "body": "1/2 = 2/4"},
	}})
	if res.Status != 201 {
		t.Fatalf("create lesson: %d %s", res.Status, res.Body)
	}
	lessonID := res.Map(t)["id"].(string)
	teacher.Do(typeCode(code)...)
	if got := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#present-title"))); got != "Room 101" {
		t.Fatalf("present view for %q", got)
	}

	board.Do(chromedp.WaitVisible(chromedp.CSS("#paired-with")), chromedp.WaitVisible(chromedp.CSS("#unpair")))
	if got := browsertest.Get(board, chromedp.Text(chromedp.CSS("#paired-with"))); got != "Paired with Ada Lovelace" {
		t.Fatalf("board says %q", got)
	}
	board.Screenshot("board-paired", browsertest.Board)

	// The teacher picks the lesson and presses next; the board follows live.
	present(teacher, lessonID)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide-frame`)))
	// #now names slide 0 before the lesson has loaded; the count starts
	// once the preview shows the slide.
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"]`)), chromedp.WaitVisible(chromedp.CSS(`#preview .slide`)))
	browsertest.Get(teacher, chromedp.Evaluate[any](`(() => { window.draws = 0;
		new MutationObserver((ms) => { for (const m of ms) if (m.addedNodes.length) window.draws++; })
			.observe(document.getElementById('preview'), { childList: true }); return null; })()`))
	teacher.Do(chromedp.Click(chromedp.CSS("#next")))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-frame`)))
	if got := browsertest.Get(board, chromedp.Text(chromedp.CSS("#stage"))); !strings.Contains(got, "Halves and quarters") {
		t.Fatalf("board shows %q on the second slide", got)
	}
	// The press is drawn once: the live echo of the teacher's own write
	// carries the revision its PUT answered already. A write from another
	// device comes after that echo on the same live connection, so once it
	// shows, the echo has arrived too.
	phone := apitest.New(n.URL()).With(token)
	boardID := browsertest.Get(teacher, chromedp.Evaluate[string](`location.hash.split('/')[2]`))
	st := phone.Do(t, "GET", "/api/v1/boards/"+boardID+"/state", nil)
	if res := phone.Do(t, "PUT", "/api/v1/boards/"+boardID+"/state", map[string]any{"lesson_id": lessonID, "slide": 0, "blank": false},
		"If-Match", st.Header.Get("ETag")); res.Status != 200 {
		t.Fatalf("steer from another device: %d %s", res.Status, res.Body)
	}
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"]`)))
	if draws := browsertest.Get(teacher, chromedp.Evaluate[int](`window.draws`)); draws != 2 {
		t.Fatalf("the preview was drawn %d times for one press and one change from elsewhere, want 2", draws)
	}
	teacher.Do(chromedp.Click(chromedp.CSS("#next")))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-frame`)))
	board.Screenshot("board-slide-2", browsertest.Board)
	teacher.Screenshot("present-laptop", browsertest.Laptop)
	teacher.Screenshot("present-phone", browsertest.Phone)

	// A reload keeps the board paired and on the second slide.
	board.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-frame`)))
	if n := browsertest.Get(board, chromedp.Evaluate[int](`document.querySelectorAll('#code').length`)); n != 0 {
		t.Fatal("a paired board shows a code after a reload")
	}
	// B blanks the board, and the reloaded board follows that too.
	teacher.Do(chromedp.EmulateViewport(1280, 800), chromedp.KeyEvent("b"))
	board.Do(chromedp.WaitVisible(chromedp.CSS("#blank")))

	// Forgetting the board: it shows a new code by itself.
	teacher.Do(chromedp.Click(chromedp.CSS("#forget")), chromedp.Click(chromedp.CSS("#forget-confirm")),
		chromedp.WaitVisible(chromedp.CSS("#pair-code")))
	if fresh := boardCode(board); fresh == code || len(fresh) != 6 {
		t.Fatalf("after forgetting, the board shows %q (was %q)", fresh, code)
	}
}

// A phone pairs by opening the board's QR link, logging in on the way.
func TestBrowserPairByQRLink(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	if res := c.Do(t, "POST", "/api/v1/accounts", map[string]string{"email": "ada@school.example", "password": "analytical engine", "name": "Ada Lovelace"}); res.Status != 201 {
		t.Fatalf("sign up: %d", res.Status)
	}
	b := browsertest.Start(t)
	board, phone := b.NewPage(), b.NewPage()
	board.Do(chromedp.Navigate(n.URL()+"/board"), chromedp.WaitVisible(chromedp.CSS("#qr")))
	link := browsertest.Get(board, chromedp.Evaluate[string](`document.getElementById('qr').dataset.claimUrl`))
	if !strings.HasPrefix(link, n.URL()+"/pair#claim=") {
		t.Fatalf("QR link %q", link)
	}

	phone.Do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#login-email")),
		chromedp.SendKeys(chromedp.CSS("#login-email"), "ada@school.example"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "analytical engine"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#claim-name")),
		browsertest.Clear("#claim-name"),
		chromedp.SendKeys(chromedp.CSS("#claim-name"), "Lab"),
		chromedp.Click(chromedp.CSS("#claim-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#present-title")))
	phone.Screenshot("clicker-phone", browsertest.Phone)
	board.Do(chromedp.WaitVisible(chromedp.CSS("#paired-with")))
	if got := browsertest.Get(board, chromedp.Text(chromedp.CSS("#paired-with"))); got != "Paired with Ada Lovelace" {
		t.Fatalf("board says %q", got)
	}
}

// Where websockets are broken the board falls back to server-sent events
// and still follows the teacher.
func TestBrowserSSEFallback(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	b := browsertest.Start(t)
	board := b.NewPage()
	// A proxy that breaks websockets: every attempt fails at once.
	if _, err := chromedp.Call(board.Ctx(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.WebSocket = function () { throw new Error('websockets are blocked here'); };`,
	}); err != nil {
		t.Fatal(err)
	}
	board.Do(chromedp.Navigate(n.URL()+"/board"), chromedp.WaitVisible(chromedp.CSS("#qr")),
		chromedp.WaitVisible(chromedp.CSS(`#conn.live[data-transport="sse"]`)))
	link := browsertest.Get(board, chromedp.Evaluate[string](`document.getElementById('qr').dataset.claimUrl`))
	claim := link[strings.Index(link, "#claim=")+len("#claim="):]

	if res := c.Do(t, "POST", "/api/v1/accounts", map[string]string{"email": "ada@school.example", "password": "analytical engine", "name": "Ada Lovelace"}); res.Status != 201 {
		t.Fatalf("sign up: %d", res.Status)
	}
	res := c.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": "ada@school.example", "password": "analytical engine", "device": "laptop"})
	ada := c.With(res.Map(t)["token"].(string))
	res = ada.Do(t, "POST", "/api/v1/pairings", map[string]string{"claim_token": claim, "name": "Room"})
	if res.Status != 201 {
		t.Fatalf("pair: %d %s", res.Status, res.Body)
	}
	id := res.Map(t)["board_id"].(string)

	board.Do(chromedp.WaitVisible(chromedp.CSS("#paired-with")))
	st := ada.Do(t, "GET", "/api/v1/boards/"+id+"/state", nil).Map(t)
	if res := ada.Do(t, "PUT", "/api/v1/boards/"+id+"/state", map[string]any{"slide": 0, "blank": true},
		"If-Match", fmt.Sprint(int(st["revision"].(float64)))); res.Status != 200 {
		t.Fatalf("steer: %d %s", res.Status, res.Body)
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS("#blank")))
}

// typeCode pairs the board showing code from the teacher's boards page,
// naming it Room 101, and waits for the present view.
func typeCode(code string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Click(chromedp.CSS("#home-boards")),
		chromedp.WaitVisible(chromedp.CSS("#pair-code")),
		chromedp.SendKeys(chromedp.CSS("#pair-code"), code[:3]+" "+code[3:]),
		browsertest.Clear("#pair-name"),
		chromedp.SendKeys(chromedp.CSS("#pair-name"), "Room 101"),
		chromedp.Click(chromedp.CSS("#pair-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#present-title")),
	}
}

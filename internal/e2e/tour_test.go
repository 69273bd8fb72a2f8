package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// layoutReport lists what a teacher would see as broken on the page at its
// present size: the page scrolling sideways, a control or heading running
// off the screen or cut off inside its own box, and controls lying on top
// of each other. Content inside a container that scrolls sideways on
// purpose (the slide strip) may lie off screen.
const layoutReport = `(() => {
	const vw = document.documentElement.clientWidth;
	const bad = [];
	if (document.documentElement.scrollWidth > vw + 1) bad.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px wide in ' + vw);
	const scrolls = (el) => { for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
		const o = getComputedStyle(a).overflowX; if (o === 'auto' || o === 'scroll') return true; } return false; };
	const name = (el) => el.id ? '#' + el.id : el.tagName.toLowerCase() + ' "' + el.textContent.trim().replace(/\s+/g, ' ').slice(0, 30) + '"';
	// The header keeps its links on one line ("Log out" not under the rest).
	const items = [...document.querySelectorAll('#nav > *')].map((el) => el.getBoundingClientRect()).filter((r) => r.width > 0);
	if (items.length && Math.max(...items.map((r) => r.top)) >= Math.min(...items.map((r) => r.bottom))) bad.push('the header wraps onto a second line');
	const controls = [];
	for (const el of document.querySelectorAll('button, a, input, select, textarea, h1, h2, h3, label, .badge, .slide-title, .slide-caption, #conn, #conn span, #timer, #banner, #banner span')) {
		const r = el.getBoundingClientRect();
		if (r.width < 2 || r.height < 2 || getComputedStyle(el).visibility === 'hidden' || scrolls(el)) continue;
		if (r.right > vw + 1 || r.left < -1) bad.push(name(el) + ' runs off the screen (' + Math.round(r.left) + '..' + Math.round(r.right) + ' of ' + vw + ')');
		else if (el.matches('button, .badge, a, h1, h2, h3, #conn span, #banner span') && el.scrollWidth > el.clientWidth + 1) bad.push(name(el) + ' is cut off (' + el.scrollWidth + ' px of text in ' + el.clientWidth + ')');
		// A link that wraps has a box per line: those are what lie somewhere.
		if (el.matches('button, a, input, select, textarea')) controls.push([el, [...el.getClientRects()]]);
	}
	for (let i = 0; i < controls.length; i++) for (let j = i + 1; j < controls.length; j++) {
		const [a, ras] = controls[i], [b, rbs] = controls[j];
		if (a.contains(b) || b.contains(a)) continue;
		const meet = (ra, rb) => Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left) > 2 && Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top) > 2;
		if (ras.some((ra) => rbs.some((rb) => meet(ra, rb)))) bad.push(name(a) + ' and ' + name(b) + ' lie on top of each other');
	}
	return bad;
})()`

// duplicateIDs lists the ids that more than one element of the page has
// (a label, a description or a test then finds the wrong one).
const duplicateIDs = `(() => { const seen = new Set(), twice = new Set();
	for (const el of document.querySelectorAll('[id]')) { if (seen.has(el.id)) twice.add(el.id); seen.add(el.id); }
	return [...twice]; })()`

// tourSizes are the sizes a teacher meets: a phone, a laptop and a 1080p
// board.
var tourSizes = [][2]int{browsertest.Phone, laptop1366, browsertest.Board}

// looked checks that no id is used twice on the page and its layout at
// every tour size (and, with CLASSBOARD_SCREENSHOTS set, saves it there
// for people to look at), then puts the page back at size.
func looked(t *testing.T, p *browsertest.Page, name string, back [2]int) {
	t.Helper()
	if dup := js[[]string](p, duplicateIDs); len(dup) > 0 {
		t.Errorf("%s: ids used twice: %q", name, dup)
	}
	for _, size := range tourSizes {
		p.Do(chromedp.EmulateViewport(int64(size[0]), int64(size[1])))
		for _, bad := range js[[]string](p, layoutReport) {
			t.Errorf("%s at %dx%d: %s", name, size[0], size[1], bad)
		}
		p.Screenshot(fmt.Sprintf("tour-%s-%dx%d", name, size[0], size[1]), size)
	}
	p.Do(chromedp.EmulateViewport(int64(back[0]), int64(back[1])))
}

// speak switches a page to lang the way the language switch remembers it,
// and reloads it.
func speak(p *browsertest.Page, lang, wait string) {
	p.Do(evalVoid(`localStorage.setItem('classboard.lang', `+strconv.Quote(lang)+`)`), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"] `+wait)))
}

// The teacher's tour: every view of the teacher app and the board (and
// the pupils' join page), in
// English and Dutch, at phone, laptop and 1080p size, with a lesson that
// fills the board (twelve items, a captioned picture, too much text),
// speaker notes and a running timer; then again with the node holding the
// board's live connection killed, and with every node stopped. Nothing
// scrolls sideways, runs off the screen, is cut off or lies on another
// control, and the board's slides stay whole and uncovered. With
// CLASSBOARD_SCREENSHOTS=dir it leaves a PNG of every view and size there.
func TestBrowserTour(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	b := browsertest.Start(t)
	board := b.NewPage()
	teachers := map[string]*browsertest.Page{"en": b.NewPage(), "nl": b.NewPage()}
	langs := []string{"en", "nl"}

	api, token, boardID, _ := boardOnAPI(t, board, c.UIURL(), c.Origins(), 3)
	slides := fitSlides(uploadPicture(t, c.Origins(), token, 90))
	slides[0]["notes"] = "Ask who has eaten a quarter of a pizza. Then show the picture."
	res, err := api.Retry(t.Context(), "POST", "/api/v1/lessons", map[string]any{"title": "Fractions, decimals and percentages for group 7", "slides": slides})
	if err != nil || res.Status != 201 {
		t.Fatalf("create lesson: %v %v", err, res)
	}
	lessonID := res.Map(t)["id"].(string)
	steer(t, api, boardID, lessonID, 0)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide-title`)))

	for _, lang := range langs {
		p := teachers[lang]
		p.Do(chromedp.EmulateViewport(int64(laptop1366[0]), int64(laptop1366[1])), chromedp.Navigate(c.UIURL()+"/#/login"),
			chromedp.WaitVisible(chromedp.CSS("#login-email")),
			evalVoid(`localStorage.setItem('classboard.token', `+strconv.Quote(token)+`)`))
		speak(p, lang, "#login-email, #greeting")
		for _, v := range []struct{ name, hash, wait string }{
			{"home", "#/", "#greeting"},
			{"lessons", "#/lessons", "#new-lesson"},
			{"editor", "#/lessons/" + lessonID, "#lesson-title"},
			{"boards", "#/boards", "#pair-code"},
			{"present", "#/boards/" + boardID, `#now[data-slide="0"]`},
		} {
			p.Do(chromedp.Navigate(c.UIURL()+"/"+v.hash), chromedp.WaitVisible(chromedp.CSS(v.wait)))
			if title := js[string](p, `document.title`); !strings.HasSuffix(title, " – classboard") {
				t.Errorf("%s in %s is titled %q, not after its heading", v.name, lang, title)
			}
			looked(t, p, v.name+"-"+lang, laptop1366)
		}
	}
	// The views before signing in, and the pupils' page.
	guest := b.NewPage()
	guest.Do(chromedp.EmulateViewport(int64(laptop1366[0]), int64(laptop1366[1])), chromedp.Navigate(c.UIURL()+"/#/login"), chromedp.WaitVisible(chromedp.CSS("#login-email")))
	for _, lang := range langs {
		guest.Do(chromedp.Navigate(c.UIURL()+"/#/login"), chromedp.WaitVisible(chromedp.CSS("#login-email")))
		speak(guest, lang, "#login-email")
		for _, v := range []struct{ name, path, wait string }{
			{"login", "/#/login", "#login-email"},
			{"signup", "/#/signup", "#signup-name"},
			{"forgot", "/#/forgot", "#forgot-email"},
			{"join", "/join", "#code"},
		} {
			guest.Do(chromedp.Navigate(c.UIURL()+v.path), chromedp.WaitVisible(chromedp.CSS(v.wait)))
			looked(t, guest, v.name+"-"+lang, laptop1366)
		}
	}

	teachers["en"].Do(chromedp.Click(chromedp.CSS("#timer-start")), chromedp.WaitVisible(chromedp.CSS("#timer-left:not(:empty)")))
	board.Do(chromedp.WaitVisible(chromedp.CSS("#timer")))
	for _, lang := range langs {
		speak(board, lang, `#stage[data-slide="0"] .slide-title`)
		board.Do(chromedp.WaitVisible(chromedp.CSS("#timer")))
		boardWhole(t, board, "board-text-"+lang)
		looked(t, board, "board-text-"+lang, browsertest.Board)
		teachers[lang].Do(chromedp.WaitVisible(chromedp.CSS("#timer-left:not(:empty)")))
		looked(t, teachers[lang], "present-timer-"+lang, laptop1366)
	}
	teachers["nl"].Do(chromedp.Click(chromedp.CSS("#next")), chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="1"][data-board="1"]`)))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-picture img`)))
	boardWhole(t, board, "board-picture")
	looked(t, board, "board-picture-nl", browsertest.Board)

	// A node dies: the one holding the board's live connection.
	var holder *testcluster.Member
	for _, m := range c.Nodes {
		if m.URL() == liveOrigin(t, board) {
			holder = m
		}
	}
	if holder == nil {
		t.Fatalf("the board's live connection is on %s, no node of the cluster", liveOrigin(t, board))
	}
	teachers["en"].Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="1"]`)), chromedp.WaitVisible(chromedp.CSS(`#prev:not([disabled])`)))
	holder.Kill()
	teachers["en"].Do(chromedp.Click(chromedp.CSS("#prev")))
	// The press lands once the killed node's shards have new leaders.
	ctx, cancel := context.WithTimeout(board.Ctx(), 2*testcluster.ElectionBudget)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"][data-local="false"] .slide-title`))); err != nil {
		t.Fatalf("the board did not follow the teacher after its node was killed: %v (the teacher is told %q)", err, js[string](teachers["en"], `document.getElementById('present-note').textContent`))
	}
	boardWhole(t, board, "board-node-killed")
	looked(t, board, "board-node-killed-nl", browsertest.Board)
	for _, lang := range langs {
		teachers[lang].Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"][data-board="0"]`)))
		looked(t, teachers[lang], "present-node-killed-"+lang, laptop1366)
	}

	// Every node stops: the school's network is down.
	var wg sync.WaitGroup
	for _, m := range c.Nodes {
		if m != holder {
			wg.Go(m.Stop)
		}
	}
	wg.Wait()
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#offline`)))
	boardWhole(t, board, "board-offline")
	looked(t, board, "board-offline-nl", browsertest.Board)
	speak(board, "en", `#offline`)
	looked(t, board, "board-offline-en", browsertest.Board)
	for _, lang := range langs {
		browsertest.Get(teachers[lang], chromedp.Poll[bool](`!document.querySelector('#online.ok')`))
		looked(t, teachers[lang], "present-offline-"+lang, laptop1366)
		teachers[lang].Do(press("next", 1, 0), chromedp.WaitVisible(chromedp.CSS(`#now.waiting[data-slide="1"]`)))
		looked(t, teachers[lang], "present-offline-pressed-"+lang, laptop1366)
		for _, v := range []struct{ name, hash, wait string }{
			{"editor", "#/lessons/" + lessonID, "#lesson-title, #view-retrying"},
			{"lessons", "#/lessons", "#new-lesson, #view-retrying"},
		} {
			teachers[lang].Do(chromedp.Navigate(c.UIURL()+"/"+v.hash), chromedp.WaitVisible(chromedp.CSS(v.wait)))
			looked(t, teachers[lang], v.name+"-offline-"+lang, laptop1366)
			if text := js[string](teachers[lang], `document.getElementById('app').textContent`); strings.Contains(strings.ToLower(text), "try again") || strings.Contains(text, "opnieuw proberen") {
				t.Errorf("%s offline in %s tells the teacher to try again: %q", v.name, lang, text)
			}
		}
	}
}

// boardWhole checks the slide on the board at every tour size: every item
// inside the slide and no overlay on its content.
func boardWhole(t *testing.T, board *browsertest.Page, name string) {
	t.Helper()
	for _, size := range tourSizes {
		board.Do(chromedp.EmulateViewport(int64(size[0]), int64(size[1])))
		// The board fits the slide again after it is resized.
		poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			m := measure(t, board, "#stage .slide")
			if len(m.Outside) > 0 || len(m.Overlaps) > 0 {
				dbg := js[string](board, `(() => { const s = document.querySelector('#stage .slide'); const c = s.querySelector('.slide-content'); const b = s.querySelector('.slide-body'); const li = [...s.querySelectorAll('li')].pop();
					const cs = getComputedStyle(c); return JSON.stringify({slide: s.getBoundingClientRect().bottom, pad: cs.paddingBottom, body: b.getBoundingClientRect().bottom, bodySH: b.scrollHeight, bodyCH: b.clientHeight, cSH: c.scrollHeight, cCH: c.clientHeight, li: li && li.getBoundingClientRect().bottom, fit: s.style.getPropertyValue('--fit'), state: s.dataset.fit}); })()`)
				return fmt.Errorf("%s at %dx%d: %q lie outside the slide, %q cover its content %s", name, size[0], size[1], m.Outside, m.Overlaps, dbg)
			}
			return nil
		})
	}
	board.Do(chromedp.EmulateViewport(int64(browsertest.Board[0]), int64(browsertest.Board[1])))
}

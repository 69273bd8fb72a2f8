package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// The slides of the fit tests: a text slide that fills the board (a title
// of three lines at full size and twelve list items), a picture with a
// caption, and a slide with more text than fits even at the smallest
// readable size.
func fitSlides(media string) []map[string]string {
	items := make([]string, 12)
	for i := range items {
		items[i] = fmt.Sprintf("- Item %d: a fraction is a part of a whole", i+1)
	}
	tooMuch := make([]string, 30)
	for i := range tooMuch {
		tooMuch[i] = fmt.Sprintf("- Line %d of far too much text for one slide, which the board cannot show whole", i+1)
	}
	return []map[string]string{
		{"kind": "text", "title": "What we learn today about fractions, decimals and percentages, and how the three of them belong together", "body": strings.Join(items, "\n")},
		{"kind": "image", "media_id": media, "caption": "A picture with its caption below it, never over it"},
		{"kind": "text", "title": "Too much", "body": strings.Join(tooMuch, "\n")},
	}
}

// slideReport measures the slide in sel: its list items (how many, which
// lie outside the slide's content box, the smallest font size), the
// smallest font size the readability rule allows (1/30 of the slide's
// height), and which of the board's chips on screen overlap the content
// box (the chips live in the slide's padding).
const slideReport = `((sel) => {
	const s = document.querySelector(sel);
	const r = s.getBoundingClientRect();
	const cs = getComputedStyle(s.querySelector('.slide-content'));
	const box = { left: r.left + parseFloat(cs.paddingLeft), right: r.right - parseFloat(cs.paddingRight),
		top: r.top + parseFloat(cs.paddingTop), bottom: r.bottom - parseFloat(cs.paddingBottom) };
	const inside = (b) => b.left >= box.left - 0.5 && b.right <= box.right + 0.5 && b.top >= box.top - 0.5 && b.bottom <= box.bottom + 0.5;
	const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
	const out = { items: 0, outside: [], smallest: 1e9, min: r.height / 30, overlaps: [], chips: [] };
	for (const el of s.querySelectorAll('.slide-title, .slide-body li, .slide-caption, .slide-picture img')) {
		if (el.matches('li')) out.items++;
		if (!inside(el.getBoundingClientRect())) out.outside.push(el.textContent || el.tagName);
		const size = el.matches('img') ? 1e9 : parseFloat(getComputedStyle(el).fontSize);
		if (size < out.smallest) { out.smallest = size; out.smallestText = el.textContent; }
	}
	for (const chip of document.querySelectorAll('#overlays > *')) {
		const b = chip.getBoundingClientRect();
		if (b.width === 0 || b.height === 0) continue;
		out.chips.push(chip.id);
		if (meets(b, box)) out.overlaps.push(chip.id);
	}
	return JSON.stringify(out);
})`

type slideMeasure struct {
	Items    int      `json:"items"`
	Outside  []string `json:"outside"`
	Smallest float64  `json:"smallest"`
	// SmallestText is the text set in the smallest size.
	SmallestText string   `json:"smallestText"`
	Min          float64  `json:"min"`
	Overlaps     []string `json:"overlaps"`
	Chips        []string `json:"chips"`
}

// boardSizes saves screenshots of the board at 1080p, laptop and phone size.
func boardSizes(p *browsertest.Page, name string) {
	for _, size := range [][2]int{browsertest.Board, laptop1366, browsertest.Phone} {
		p.Screenshot(fmt.Sprintf("%s-%dx%d", name, size[0], size[1]), size)
	}
}

func measure(t *testing.T, p *browsertest.Page, sel string) slideMeasure {
	t.Helper()
	var m slideMeasure
	if err := json.Unmarshal([]byte(js[string](p, slideReport+`(`+fmt.Sprintf("%q", sel)+`)`)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The board shows every slide whole: all twelve items of a full slide lie
// on it at no less than the readable minimum, a caption sits below its
// picture, too much text is marked as such, and the pairing banner, the
// timer, the connection state and the full-screen button stay in the
// slide's margins. The pairing screen names the address to type.
func TestBrowserBoardShowsEverySlideWhole(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	b := browsertest.Start(t)
	board := b.NewPage()
	board.Do(chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(c.UIURL()+"/board"))
	code := boardCode(board)
	if got, want := js[string](board, `document.getElementById('pair-address').textContent`), c.UIURL(); got != want {
		t.Fatalf("the pairing screen says to go to %q, want %q (the teacher app's address)", got, want)
	}
	boardSizes(board, "board13-pairing")
	board.Do(chromedp.EmulateViewport(1920, 1080))

	api, token := teacherAPI(t, c.Origins())
	res, err := api.Retry(t.Context(), "POST", "/api/v1/pairings", map[string]string{"code": code, "name": "Room 7"}, "Idempotency-Key", "pair-fit")
	if err != nil || res.Status != 201 {
		t.Fatalf("pair: %v %v", err, res)
	}
	boardID := res.Map(t)["board_id"].(string)
	res, err = api.Retry(t.Context(), "POST", "/api/v1/lessons", map[string]any{"title": "Fractions", "slides": fitSlides(uploadPicture(t, c.Origins(), token, 40))})
	if err != nil || res.Status != 201 {
		t.Fatalf("create lesson: %v %v", err, res)
	}
	lessonID := res.Map(t)["id"].(string)
	// The banner of the first minute and a timer are on screen with the slide.
	writeState(t, api, boardID, map[string]any{"lesson_id": lessonID, "slide": 0,
		"timer": map[string]string{"ends_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)}})
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide[data-fit="fits"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#paired-with`)), chromedp.WaitVisible(chromedp.CSS(`#timer`)),
		chromedp.WaitVisible(chromedp.CSS(`#conn.live`)), chromedp.WaitVisible(chromedp.CSS(`#fullscreen`)))

	m := measure(t, board, "#stage .slide")
	if m.Items != 12 || len(m.Outside) > 0 {
		t.Fatalf("the board shows %d items, and these lie outside the slide: %q", m.Items, m.Outside)
	}
	if m.Smallest < m.Min-0.5 {
		t.Fatalf("text of %.1f px on a slide whose readable minimum is %.1f px", m.Smallest, m.Min)
	}
	if len(m.Chips) < 4 || len(m.Overlaps) > 0 {
		t.Fatalf("chips on screen %v; over the slide's content: %v", m.Chips, m.Overlaps)
	}
	t.Logf("12 items and a long title at 1920x1080: smallest text %.1f px (minimum %.1f px)", m.Smallest, m.Min)
	boardSizes(board, "board13-12-items")
	// A smaller screen: the slide is fitted again as it resizes.
	board.Do(chromedp.EmulateViewport(1366, 768))
	poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if m := measure(t, board, "#stage .slide"); m.Items != 12 || len(m.Outside) > 0 || len(m.Overlaps) > 0 || m.Smallest < m.Min-0.5 {
			return fmt.Errorf("at 1366x768: %+v", m)
		}
		return nil
	})
	board.Do(chromedp.EmulateViewport(1920, 1080))

	// The caption is below the picture.
	steer(t, api, boardID, lessonID, 1)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-caption`)))
	browsertest.Get(board, chromedp.Poll[bool](`(() => { const i = document.querySelector('#stage .slide-picture img'); return !!(i && i.complete && i.naturalWidth > 0); })()`))
	gap := js[float64](board, `document.querySelector('#stage .slide-caption').getBoundingClientRect().top - document.querySelector('#stage .slide-picture img').getBoundingClientRect().bottom`)
	if gap < 0 {
		t.Fatalf("the caption starts %.1f px above the picture's bottom edge", -gap)
	}
	if m := measure(t, board, "#stage .slide"); len(m.Outside) > 0 || len(m.Overlaps) > 0 {
		t.Fatalf("picture slide: outside the slide %q, chips over it %v", m.Outside, m.Overlaps)
	}
	boardSizes(board, "board13-caption")
	board.Do(chromedp.EmulateViewport(1920, 1080))

	// More than fits at the smallest readable size is marked, not shrunk
	// further.
	steer(t, api, boardID, lessonID, 2)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="2"] .slide[data-fit="overflows"]`)))
	if m := measure(t, board, "#stage .slide"); m.Smallest < m.Min-0.5 {
		t.Fatalf("an overfull slide shrank its text to %.1f px (%q), below the minimum %.1f px", m.Smallest, m.SmallestText, m.Min)
	}
	board.Screenshot("board13-too-much-1920x1080", browsertest.Board)

	// Full screen: the button asks for it.
	board.Do(chromedp.Click(chromedp.CSS("#fullscreen")))
	browsertest.Get(board, chromedp.Poll[bool](`!!document.fullscreenElement && document.getElementById('fullscreen').getAttribute('aria-label') === 'Leave full screen'`))
	// The board asked this Chromium for a wake lock; whether it is granted
	// is the browser's affair (headless Chromium 156 grants it).
	wake := js[string](board, `document.getElementById('board').dataset.wake || 'not asked'`)
	if wake != "held" && wake != "refused" && wake != "unsupported" {
		t.Fatalf("wake lock: %s", wake)
	}
	t.Logf("this Chromium's wake lock: %s", wake)

	// All nodes stopped: the slide stays, the connection chip says offline,
	// still in the margin.
	board.Do(chromedp.EmulateViewport(1920, 1080))
	steer(t, api, boardID, lessonID, 0)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide[data-fit="fits"]`)))
	var wg sync.WaitGroup
	for _, m := range c.Nodes {
		wg.Go(m.Stop)
	}
	wg.Wait()
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#offline`)))
	if m := measure(t, board, "#stage .slide"); m.Items != 12 || len(m.Overlaps) > 0 {
		t.Fatalf("offline: %+v", m)
	}
	boardSizes(board, "board13-offline")
}

// The board keeps the screen awake where the browser can: it asks for a
// wake lock at once and again when the page shows after being hidden (the
// browser drops the lock then). A browser without the API still runs the
// board. Headless Chromium's own lock cannot be seen from outside, so the
// API is stood in for here, the way a browser behaves.
func TestBrowserBoardKeepsTheScreenAwake(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	withLock, without := b.NewPage(), b.NewPage()
	if _, err := chromedp.Call(withLock.Ctx(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.wakeRequests = 0;
		window.pageHidden = false;
		Object.defineProperty(document, 'visibilityState', { get: () => (window.pageHidden ? 'hidden' : 'visible') });
		Object.defineProperty(Navigator.prototype, 'wakeLock', { get: () => ({
			request: async (type) => {
				if (type !== 'screen') throw new TypeError('not a screen lock');
				window.wakeRequests++;
				const lock = new EventTarget();
				window.lastLock = lock;
				return lock;
			},
		}) });`}); err != nil {
		t.Fatal(err)
	}
	withLock.Do(chromedp.Navigate(n.URL()+"/board"), chromedp.WaitVisible(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`#board[data-wake="held"]`)))
	// Hidden: the browser releases the lock; shown again: asked for anew.
	withLock.Do(run(`(() => { window.pageHidden = true; window.lastLock.dispatchEvent(new Event('release'));
		document.dispatchEvent(new Event('visibilitychange')); return null; })()`),
		chromedp.WaitVisible(chromedp.CSS(`#board[data-wake="released"]`)),
		run(`(() => { window.pageHidden = false; document.dispatchEvent(new Event('visibilitychange')); return null; })()`),
		chromedp.WaitVisible(chromedp.CSS(`#board[data-wake="held"]`)))
	if got := js[int](withLock, `window.wakeRequests`); got != 2 {
		t.Fatalf("%d wake lock requests, want 2 (at start and on showing again)", got)
	}

	if _, err := chromedp.Call(without.Ctx(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `Object.defineProperty(Navigator.prototype, 'wakeLock', { get: () => undefined });`}); err != nil {
		t.Fatal(err)
	}
	without.Do(chromedp.Navigate(n.URL()+"/board"), chromedp.WaitVisible(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`#qr`)), chromedp.WaitVisible(chromedp.CSS(`#board[data-wake="unsupported"]`)))

	// The pairing screen in Dutch, for people to look at its longer words.
	without.Do(run(`localStorage.setItem('classboard.lang', 'nl')`), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#qr`)))
	pairingInDutch(t, without)
	without.Screenshot("board13-pairing-nl-1920x1080", browsertest.Board)
	without.Screenshot("board13-pairing-nl-390x844", browsertest.Phone)
}

// The editor's preview is fitted as the board is, and says before saving
// when a slide holds too much text to be read whole on the board.
func TestBrowserEditorWarnsTooMuchText(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	p := b.NewPage()
	token := signedIn(t, p, n.URL())
	res, err := testcluster.NewClient([]string{n.URL()}, 10*time.Second).With(token).Retry(t.Context(), "POST", "/api/v1/lessons",
		map[string]any{"title": "Fractions", "slides": fitSlides(uploadPicture(t, []string{n.URL()}, token, 90))})
	if err != nil || res.Status != 201 {
		t.Fatalf("create lesson: %v %v", err, res)
	}
	p.Do(chromedp.EmulateViewport(1366, 768), chromedp.Navigate(n.URL()+"/#/lessons/"+res.Map(t)["id"].(string)),
		chromedp.WaitVisible(chromedp.CSS(`#preview .slide[data-fit="fits"]`)))
	if m := measure(t, p, "#preview .slide"); m.Items != 12 || len(m.Outside) > 0 || m.Smallest < m.Min-0.5 {
		t.Fatalf("the preview of the full slide: %+v", m)
	}
	if js[bool](p, `!document.getElementById('too-much-text').hidden`) {
		t.Fatal("a slide that fits is said to hold too much text")
	}
	p.Do(chromedp.Click(chromedp.CSS("#slide-list li:nth-child(3) .slide-pick")),
		chromedp.WaitVisible(chromedp.CSS(`#preview .slide[data-fit="overflows"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#too-much-text`)))
	p.Screenshot("board13-editor-too-much-laptop", laptop1366)
	p.Screenshot("board13-editor-too-much-phone", browsertest.Phone)
	p.Do(chromedp.EmulateViewport(1366, 768), chromedp.Click(chromedp.CSS("#slide-list li:nth-child(1) .slide-pick")),
		chromedp.WaitVisible(chromedp.CSS(`#preview .slide[data-fit="fits"]`)), chromedp.WaitNotVisible(chromedp.CSS(`#too-much-text`)))
}

// A board that unpairs itself ("Not you? Unpair" on the board) sends the
// teacher presenting on it to their boards with a plain word of what
// happened, and the teacher is told where to open the board.
func TestBrowserTeacherToldWhenBoardUnpairs(t *testing.T) {
	n, board, teacher, code := boardShowingCode(t)
	signUpInBrowser(teacher, n.URL(), "Ada Lovelace", "ada@school.example")
	teacher.Do(chromedp.Click(chromedp.CSS("#home-boards")), chromedp.WaitVisible(chromedp.CSS("#board-address")))
	if got, want := js[string](teacher, `document.getElementById('board-address').textContent`), n.URL()+"/board"; got != want {
		t.Fatalf("the teacher is told to open %q, want %q", got, want)
	}
	teacher.Screenshot("board13-boards-laptop", laptop1366)
	teacher.Screenshot("board13-boards-phone", browsertest.Phone)
	teacher.Do(chromedp.EmulateViewport(1280, 800), chromedp.Navigate(n.URL()+"/#/"), chromedp.WaitVisible(chromedp.CSS("#home-boards")))
	teacher.Do(typeCode(code)...)
	teacher.Do(chromedp.WaitVisible(chromedp.CSS("#link.ok")))

	board.Do(chromedp.WaitVisible(chromedp.CSS("#unpair")), chromedp.Click(chromedp.CSS("#unpair")))
	teacher.Do(chromedp.WaitVisible(chromedp.CSS("#boards-notice")))
	if got := js[string](teacher, `document.getElementById('boards-notice').textContent`); !strings.Contains(got, "“Room 101” is no longer paired") {
		t.Fatalf("the teacher is told %q", got)
	}
	teacher.Screenshot("board13-unpaired-laptop", laptop1366)
	teacher.Screenshot("board13-unpaired-phone", browsertest.Phone)
	if fresh := boardCode(board); fresh == code {
		t.Fatal("the board shows its old code after unpairing")
	}
	// Said once: the next visit to the boards page is quiet.
	teacher.Do(chromedp.Navigate(n.URL()+"/#/"), chromedp.WaitVisible(chromedp.CSS("#home-boards")),
		chromedp.Click(chromedp.CSS("#home-boards")), chromedp.WaitVisible(chromedp.CSS("#pair-code")))
	if js[bool](teacher, `!!document.getElementById('boards-notice')`) {
		t.Fatal("the notice shows again on the next visit")
	}
}

// A picture says "removed" only when a server said so (404), and
// "unavailable, retrying" while no server answers: the slide module with
// the app's picture loader, against a client that fails each way.
func TestBrowserPictureMessagesSayWhatHappened(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	p := b.NewPage()
	p.Do(chromedp.Navigate(n.URL()+"/board"), chromedp.WaitVisible(chromedp.CSS(`#code`)))
	p.Do(evalVoid(`
		const { renderSlide } = await import(` + appModule("slide.js") + `);
		const { Pictures } = await import(` + appModule("pictures.js") + `);
		const { ApiError, Unreachable } = await import(` + appModule("client.js") + `);
		const gone = { request: async () => { throw new ApiError(404, { error: { code: 'not_found', message: 'no such picture' } }); } };
		const down = { request: async () => { throw new Unreachable(); } };
		const failing = { request: async () => { throw new ApiError(503, null); } };
		for (const [id, client] of [['gone', gone], ['down', down], ['failing', failing]]) {
			const el = renderSlide({ kind: 'image', media_id: id, src: '/api/v1/media/' + id }, { pictures: new Pictures(client) });
			el.id = 'picture-' + id;
			document.body.append(el);
		}`))
	for id, want := range map[string]string{"gone": "Picture removed", "down": "Picture unavailable, retrying…", "failing": "Picture unavailable, retrying…"} {
		poll.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
			if got := js[string](p, `document.getElementById('picture-`+id+`').textContent`); got != want {
				return fmt.Errorf("picture %s says %q, want %q", id, got, want)
			}
			return nil
		})
	}
}

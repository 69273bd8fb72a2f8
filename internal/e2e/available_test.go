package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// laptop1366 is the common laptop screen the present view is looked at on.
var laptop1366 = [2]int{1366, 768}

// lessonPlan is a lesson the tests below steer through: text slides, and
// every third one a picture of its own.
type lessonPlan struct {
	id       string
	slides   int
	pictures []int // slide indexes that show a picture
}

// uploadPicture stores a small PNG of one colour and returns its media id.
func uploadPicture(t *testing.T, origins []string, token string, shade uint8) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 100))
	for y := range 100 {
		for x := range 160 {
			img.Set(x, y, color.RGBA{shade, 120, 255 - shade, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	// The test client sends JSON; a picture goes as raw bytes, to any node.
	for _, origin := range origins {
		req, err := http.NewRequestWithContext(t.Context(), "POST", origin+"/api/v1/media", bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "image/png")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var m struct{ ID string }
		err = json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		if res.StatusCode == http.StatusCreated && err == nil {
			return m.ID
		}
	}
	t.Fatal("no node took the picture")
	return ""
}

// makeLesson creates a lesson of n slides through the API.
func makeLesson(t *testing.T, api *testcluster.Client, origins []string, token string, n int) lessonPlan {
	t.Helper()
	plan := lessonPlan{slides: n}
	slides := make([]map[string]string, n)
	for i := range n {
		if i%3 == 2 {
			slides[i] = map[string]string{"kind": "image", "media_id": uploadPicture(t, origins, token, uint8(i*9)), "caption": fmt.Sprintf("Picture on slide %d", i+1)}
			plan.pictures = append(plan.pictures, i)
		} else {
			slides[i] = map[string]string{"kind": "text", "title": fmt.Sprintf("Slide %d", i+1), "body": "Count along."}
		}
	}
	res, err := api.Retry(t.Context(), "POST", "/api/v1/lessons", map[string]any{"title": "Counting", "slides": slides})
	if err != nil || res.Status != 201 {
		t.Fatalf("create lesson: %v %v", err, res)
	}
	plan.id = res.Map(t)["id"].(string)
	return plan
}

// presenting pairs the board page, served by boardUI, with a teacher signed
// up in the teacher page, served by teacherUI, and puts a new lesson of n
// slides on the board.
func presenting(t *testing.T, board, teacher *browsertest.Page, boardUI, teacherUI string, origins []string, n int) (lessonPlan, string) {
	t.Helper()
	board.Do(chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(boardUI+"/board"))
	code := boardCode(board)
	signUpInBrowser(teacher, teacherUI, "Ada Lovelace", "ada@school.example")
	token := browsertest.Get(teacher, chromedp.Evaluate[string](`localStorage.getItem('classboard.token')`))
	plan := makeLesson(t, testcluster.NewClient(origins, 10*time.Second).With(token), origins, token, n)
	teacher.Do(typeCode(code)...)
	teacher.Do(chromedp.WaitVisible(chromedp.CSS("#link.ok")), pickLesson(plan.id),
		chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"]`)), chromedp.WaitVisible(chromedp.CSS(`#next:not([disabled])`)))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide-frame`)))
	return plan, token
}

func pickLesson(id string) chromedp.Action[chromedp.Void] {
	return evalVoid(`const s = document.getElementById('lesson'); s.value = ` + strconv.Quote(id) + `; s.dispatchEvent(new Event('change'));`)
}

// evalVoid runs a script in the page for its effect.
func evalVoid(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`(async () => { `+script+` ; return null; })()`, chromedp.EvalAwaitPromise)(ctx, tg)
		return err
	})
}

// press clicks a button n times, gap apart, the way a hurried teacher does.
func press(id string, n int, gap time.Duration) chromedp.Action[chromedp.Void] {
	return evalVoid(fmt.Sprintf(`for (let i = 0; i < %d; i++) { document.getElementById(%q).click(); if (%d) await new Promise((r) => setTimeout(r, %d)); }`,
		n, id, gap.Milliseconds(), gap.Milliseconds()))
}

// boardRevision is the revision of the server state the board shows.
func boardRevision(t *testing.T, p *browsertest.Page) int {
	t.Helper()
	n, err := strconv.Atoi(browsertest.Get(p, chromedp.Evaluate[string](`document.getElementById('stage').dataset.revision`)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// settled waits until the teacher's view has nothing left to send and
// shows slide, and the board shows it too.
func settled(board, teacher *browsertest.Page, slide int) {
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#now[data-slide="%d"][data-board="%d"]:not(.waiting)`, slide, slide))))
	board.Do(chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#stage[data-slide="%d"][data-local="false"] .slide-frame`, slide))))
}

// One node: ten presses of Next within a second move the board exactly ten
// slides, and ten of Prev bring it back; presses faster than writes are
// coalesced into the newest state instead of queued or dropped.
func TestBrowserQuickPressesAllLand(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()
	presenting(t, board, teacher, n.URL(), n.URL(), []string{n.URL()}, 14)

	teacher.Do(press("next", 10, 90*time.Millisecond))
	settled(board, teacher, 10)
	teacher.Do(press("prev", 10, 90*time.Millisecond))
	settled(board, teacher, 0)

	// Five presses in one go (faster than any write) are one or two writes
	// that end five slides on.
	before := boardRevision(t, board)
	teacher.Do(press("next", 5, 0))
	if got := browsertest.Get(teacher, chromedp.Evaluate[string](`document.getElementById('now').dataset.slide`)); got != "5" {
		t.Fatalf("the view shows slide %s right after five presses, want 5 at once", got)
	}
	teacher.Screenshot("present-sending-phone", browsertest.Phone)
	settled(board, teacher, 5)
	if writes := boardRevision(t, board) - before; writes < 1 || writes > 2 {
		t.Fatalf("five quick presses made %d writes, want one or two", writes)
	}
	teacher.Screenshot("present-laptop", laptop1366)
	board.Screenshot("board-slide", browsertest.Board)
}

// holdLiveTickets holds the page's requests for live tickets in the
// browser from now until the returned func is called, which lets them go.
func holdLiveTickets(t *testing.T, p *browsertest.Page) (release func()) {
	t.Helper()
	paused := chromedp.Events(p.Ctx(), fetch.RequestPaused)
	if _, err := chromedp.Call(p.Ctx(), fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/live-tickets"}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []fetch.RequestID
	released := false
	letGo := func(id fetch.RequestID) {
		// The page may have given up on it meanwhile.
		_, _ = chromedp.Call(p.Ctx(), fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			mu.Lock()
			if released {
				mu.Unlock()
				letGo(ev.RequestID)
				continue
			}
			held = append(held, ev.RequestID)
			mu.Unlock()
		}
	}()
	return func() {
		mu.Lock()
		released = true
		ids := held
		held = nil
		mu.Unlock()
		for _, id := range ids {
			letGo(id)
		}
	}
}

// liveOrigin is the origin a page last asked for a live ticket: where its
// live connection is.
func liveOrigin(t *testing.T, p *browsertest.Page) string {
	t.Helper()
	return browsertest.Get(p, chromedp.Evaluate[string](`(() => {
		const e = performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/api/v1/live-tickets')).pop();
		return e ? new URL(e.name).origin : '';
	})()`))
}

// recorder notes, in the page, every change of an element's text or
// attributes with its time, so a test can read the sequence afterwards.
func recorder(name, selector string) chromedp.Action[chromedp.Void] {
	return evalVoid(fmt.Sprintf(`const log = window[%q] = [];
		const el = document.querySelector(%q);
		const note = () => log.push({ at: Date.now(), text: el.textContent, cls: el.className, slide: el.dataset.slide || '', board: el.dataset.board || '' });
		note();
		new MutationObserver(note).observe(el, { childList: true, subtree: true, characterData: true, attributes: true });`, name, selector))
}

type change struct {
	At    int64  `json:"at"`
	Text  string `json:"text"`
	Cls   string `json:"cls"`
	Slide string `json:"slide"`
	Board string `json:"board"`
}

// slowest is the longest time from a press (pressed[i], the press to
// slide i) to the first change whose slide (as read by slide) reached i.
func slowest(pressed []int64, log []change, slide func(change) string) int64 {
	last, worst := 0, int64(0)
	for _, ch := range log {
		s, err := strconv.Atoi(slide(ch))
		if err != nil {
			continue
		}
		for i := last + 1; i <= s && i < len(pressed); i++ {
			worst = max(worst, ch.At-pressed[i])
		}
		last = max(last, s)
	}
	return worst
}

func changes(t *testing.T, p *browsertest.Page, name string) []change {
	t.Helper()
	return browsertest.Get(p, chromedp.Evaluate[[]change](`window[`+strconv.Quote(name)+`]`))
}

// Three nodes, each a process: the node that served the board and holds
// its live connection is killed (kill -9) while the teacher, whose page
// came from another node, presses Next every second for 20 s. Every press lands in order,
// every picture shows, the presence badge says the board is reconnecting
// and comes back, and nobody is told to "try again". (The badge hears of
// the board only through presence messages on the teacher's own live
// connection: the server side of issue 10.)
func TestBrowserPressingThroughANodesDeath(t *testing.T) {
	c := testcluster.StartCluster(t, 3, testcluster.Processes())
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()
	victim, teacherNode := c.Nodes[0], c.Nodes[1]
	plan, _ := presenting(t, board, teacher, victim.URL(), teacherNode.URL(), c.Origins(), 24)
	// A fresh page starts on its own node: the board's live connection is
	// on the victim, the teacher's on another node (each asked its node
	// for its live ticket).
	for _, pn := range []struct {
		p    *browsertest.Page
		node *testcluster.Member
	}{{board, victim}, {teacher, teacherNode}} {
		if got := liveOrigin(t, pn.p); got != pn.node.URL() {
			t.Fatalf("a page's live connection is on %s, want %s", got, pn.node.URL())
		}
	}
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#online.ok`)),
		recorder("badge", "#online"), recorder("note", "#present-note"), recorder("banner", "#banner"), recorder("now", "#now"))
	board.Do(recorder("stage", "#stage"), recorder("conn", "#conn"))

	// A board that reconnects within the presence window (about 2 s) never
	// looks offline; this one is kept from reconnecting for five presses,
	// so the badge has something to tell.
	hold := holdLiveTickets(t, board)
	var killedAt time.Time
	pressed := make([]int64, 21) // when the press to slide i was made
	before := boardRevision(t, board)
	for i := 1; i <= 20; i++ {
		teacher.Do(press("next", 1, 0))
		pressed[i] = time.Now().UnixMilli()
		if i == 3 {
			killedAt = time.Now()
			victim.Kill()
		}
		if i == 5 {
			teacher.Screenshot("present-during-failover-laptop", laptop1366)
		}
		if i == 8 {
			hold()
		}
		if i < 20 {
			time.Sleep(time.Second) // the teacher's pace, not a wait for an outcome
		}
	}
	settled(board, teacher, 20)

	// In order: the board never went back.
	last := -1
	shown := changes(t, board, "stage")
	for _, ch := range shown {
		if s, err := strconv.Atoi(ch.Slide); err == nil {
			if s < last {
				t.Fatalf("the board went back from slide %d to %d", last, s)
			}
			last = s
		}
	}
	t.Logf("20 presses, %d writes; slowest press acknowledged %d ms after it was made, on the board %d ms after (the board was held off for five of those seconds)",
		boardRevision(t, board)-before, slowest(pressed, changes(t, teacher, "now"), func(c change) string { return c.Board }),
		slowest(pressed, shown, func(c change) string { return c.Slide }))
	// Nobody was told to try again.
	for _, name := range []string{"note", "banner"} {
		for _, ch := range changes(t, teacher, name) {
			if strings.Contains(strings.ToLower(ch.Text), "try again") {
				t.Fatalf("the teacher was told %q", ch.Text)
			}
		}
	}
	// The badge said "reconnecting" after the kill, and "Board online" again
	// after the board reconnected.
	var reconnecting, back int64
	for _, ch := range changes(t, teacher, "badge") {
		if ch.At >= killedAt.UnixMilli() && reconnecting == 0 && ch.Text == "Board reconnecting…" {
			reconnecting = ch.At
		}
		if reconnecting != 0 && ch.Text == "Board online" {
			back = ch.At
		}
	}
	var boardBack int64
	for _, ch := range changes(t, board, "conn") {
		if ch.At > killedAt.UnixMilli() && strings.Contains(ch.Cls, "live") {
			boardBack = ch.At
		}
	}
	if reconnecting == 0 || back == 0 || boardBack == 0 {
		t.Fatalf("presence badge: reconnecting at %d, back at %d, board reconnected at %d (ms since epoch)", reconnecting, back, boardBack)
	}
	t.Logf("badge said reconnecting %d ms after the kill; back online %d ms after the board reconnected", reconnecting-killedAt.UnixMilli(), back-boardBack)

	// Every picture shows, with the node that served the pages dead.
	for _, i := range plan.pictures {
		teacher.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`.thumb[data-slide="%d"]`, i))))
		board.Do(chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#stage[data-slide="%d"] .slide-picture img`, i))))
		poll.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
			if !browsertest.Get(board, chromedp.Evaluate[bool](`(() => { const i = document.querySelector('#stage .slide-picture img'); return !!(i && i.complete && i.naturalWidth > 0); })()`)) {
				return fmt.Errorf("the picture of slide %d is not shown", i+1)
			}
			return nil
		})
	}
	board.Screenshot("board-picture-after-kill", browsertest.Board)
}

// teacherAPI signs a teacher up and in through the API.
func teacherAPI(t *testing.T, origins []string) (*testcluster.Client, string) {
	t.Helper()
	api := testcluster.NewClient(origins, 10*time.Second)
	if res, err := api.Retry(t.Context(), "POST", "/api/v1/accounts", map[string]string{"name": "Grace Hopper", "email": "grace@school.example", "password": "a long password"}); err != nil || res.Status != 201 {
		t.Fatalf("sign up: %v %v", err, res)
	}
	res, err := api.Retry(t.Context(), "POST", "/api/v1/sessions", map[string]string{"email": "grace@school.example", "password": "a long password", "device": "laptop"})
	if err != nil || res.Status != 201 {
		t.Fatalf("sign in: %v %v", err, res)
	}
	token := res.Map(t)["token"].(string)
	return api.With(token), token
}

// steer puts slide of the lesson on the board through the API.
func steer(t *testing.T, api *testcluster.Client, boardID, lessonID string, slide int) {
	t.Helper()
	writeState(t, api, boardID, map[string]any{"lesson_id": lessonID, "slide": slide})
}

// writeState replaces the board's state through the API, as another device
// of the teacher's would.
func writeState(t *testing.T, api *testcluster.Client, boardID string, state map[string]any) {
	t.Helper()
	path := "/api/v1/boards/" + boardID + "/state"
	res, err := api.Retry(t.Context(), "GET", path, nil)
	if err != nil || res.Status != 200 {
		t.Fatalf("read state: %v %v", err, res)
	}
	rev := fmt.Sprint(res.Map(t)["revision"])
	res, err = api.Retry(t.Context(), "PUT", path, state, "If-Match", rev)
	if err != nil || res.Status != 200 {
		t.Fatalf("write state %v: %v %v", state, err, res)
	}
}

// boardOnAPI opens the board page at ui, pairs it through the API, puts a
// lesson of n slides on it and waits until the service worker controls the
// page (it keeps the app for reloads without the node). It returns the
// teacher's API client and token, the board's id and the lesson.
func boardOnAPI(t *testing.T, board *browsertest.Page, ui string, origins []string, n int) (*testcluster.Client, string, string, lessonPlan) {
	t.Helper()
	board.Do(chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(ui+"/board"))
	code := boardCode(board)
	api, token := teacherAPI(t, origins)
	res, err := api.Retry(t.Context(), "POST", "/api/v1/pairings", map[string]string{"code": code, "name": "Room 7"}, "Idempotency-Key", "pair-room-7")
	if err != nil || res.Status != 201 {
		t.Fatalf("pair: %v %v", err, res)
	}
	boardID := res.Map(t)["board_id"].(string)
	plan := makeLesson(t, api, origins, token, n)
	steer(t, api, boardID, plan.id, 2)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="2"] .slide-picture img`)))
	poll.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		if !browsertest.Get(board, chromedp.Evaluate[bool](`!!navigator.serviceWorker.controller`)) {
			return fmt.Errorf("no service worker controls the board page")
		}
		return nil
	})
	return api, token, boardID, plan
}

// The board is reloaded while the node that served it is down: the kept
// app starts, finds another node, and shows the current slide, then
// follows the teacher.
func TestBrowserBoardReloadsWithoutItsNode(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	b := browsertest.Start(t)
	board := b.NewPage()
	api, _, boardID, plan := boardOnAPI(t, board, c.UIURL(), c.Origins(), 6)

	steer(t, api, boardID, plan.id, 3)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="3"] .slide-frame`)))
	c.Nodes[0].Kill()
	if err := board.DoErr(30*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="3"] .slide-frame`)), chromedp.WaitVisible(chromedp.CSS(`#conn.live`))); err != nil {
		ctx, cancel := context.WithTimeout(board.Ctx(), 5*time.Second)
		defer cancel()
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => location.href + ' | ' + document.body.innerText + ' | ' + JSON.stringify(performance.getEntriesByType('resource').map((e) => [e.name, e.responseStatus, e.deliveryType])) + ' | ' + JSON.stringify(await caches.keys()) + ' | ' + JSON.stringify((await (await caches.open((await caches.keys())[0])).keys()).map((r) => r.url)))()`, chromedp.EvalAwaitPromise))
		t.Fatalf("after a reload without its node: %v; page: %s", err, body)
	}
	steer(t, api, boardID, plan.id, 4)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="4"] .slide-frame`)))

	// A picture asked of the dead node comes from another at once; one the
	// server answers 404 for is "removed". (A picture deleted after the
	// board showed it may still come from the browser's cache: a URL with
	// a wrong signature is one no cache holds.)
	res, err := api.Retry(t.Context(), "GET", "/api/v1/lessons/"+plan.id, nil)
	if err != nil || res.Status != 200 {
		t.Fatalf("read lesson: %v %v", err, res)
	}
	var lesson struct {
		Slides []struct {
			MediaID string `json:"media_id"`
			Src     string `json:"src"`
		} `json:"slides"`
	}
	if err := json.Unmarshal(res.Body, &lesson); err != nil {
		t.Fatal(err)
	}
	live, gone := lesson.Slides[plan.pictures[0]], lesson.Slides[plan.pictures[1]]
	gone.Src = strings.Replace(gone.Src, "sig=", "sig=0", 1)
	got := browsertest.Get(board, chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
		const { Client } = await import(`+appModule("client.js")+`);
		const { Pictures } = await import(`+appModule("pictures.js")+`);
		const c = new Client();
		c.index = 0; // the dead node first
		const p = new Pictures(c);
		const img = new Image();
		img.src = await p.load({ media_id: %q, src: %q });
		await img.decode();
		const removed = await p.load({ media_id: %q, src: %q }).then(() => 'shown', (e) => e.message);
		return img.naturalWidth + 'x' + img.naturalHeight + ' / ' + removed;
	})()`, live.MediaID, live.Src, gone.MediaID, gone.Src), chromedp.EvalAwaitPromise))
	if got != "160x100 / Picture removed" {
		t.Fatalf("pictures with the first node dead: %s", got)
	}

	// The worker kept the app and no API answer; the board's lesson cache
	// goes when the teacher forgets the board.
	kept := browsertest.Get(board, chromedp.Evaluate[[]string](`(async () => {
		const urls = [];
		for (const name of await caches.keys()) {
			if (!name.startsWith('classboard-shell-')) continue;
			for (const r of await (await caches.open(name)).keys()) urls.push(r.url);
		}
		return urls;
	})()`, chromedp.EvalAwaitPromise))
	if len(kept) == 0 {
		t.Fatal("the service worker kept no app shell")
	}
	for _, u := range kept {
		if strings.Contains(u, "/api/") {
			t.Fatalf("the service worker kept an API answer: %s", u)
		}
	}
	if res, err := api.Retry(t.Context(), "DELETE", "/api/v1/boards/"+boardID, nil); err != nil || res.Status != 204 {
		t.Fatalf("forget the board: %v %v", err, res)
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS("#code")))
	poll.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if browsertest.Get(board, chromedp.Evaluate[bool](`caches.has('classboard-board')`, chromedp.EvalAwaitPromise)) {
			return fmt.Errorf("a forgotten board still keeps its lesson")
		}
		return nil
	})
}

// Every node stops during a lesson: the board keeps the lesson on screen
// with an "offline" mark, survives a reload, and can be stepped on the
// board itself; the teacher's press meanwhile is kept. When the nodes are
// back the board shows the server's state (with the teacher's press), and
// the teacher is told the board was offline.
func TestBrowserBoardThroughFullOutage(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()
	api, token, boardID, plan := boardOnAPI(t, board, c.UIURL(), c.Origins(), 6)
	teacher.Do(chromedp.Navigate(c.Nodes[1].URL()+"/#/login"), chromedp.WaitVisible(chromedp.CSS("#login-email")),
		evalVoid(`localStorage.setItem('classboard.token', `+strconv.Quote(token)+`); location.hash = '#/boards/`+boardID+`'; location.reload()`))
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="2"]`)), chromedp.WaitVisible(chromedp.CSS(`#online.ok`)))

	stopAll := func() {
		var wg sync.WaitGroup
		for _, m := range c.Nodes {
			wg.Go(m.Stop)
		}
		wg.Wait()
	}
	stopAll()
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#offline`)),
		chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="2"] .slide-picture img`)))
	// The teacher presses Next with every server down: kept, shown as on
	// its way.
	teacher.Do(press("next", 1, 0), chromedp.WaitVisible(chromedp.CSS(`#now.waiting[data-slide="3"][data-board="2"]`)))
	teacher.Screenshot("present-outage-phone", browsertest.Phone)
	teacher.Screenshot("present-outage-laptop", laptop1366)
	board.Do(chromedp.KeyEvent(kb.ArrowRight), chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="3"][data-local="true"] .slide-frame`)))
	// A reload with no node at all: the kept app and lesson.
	board.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="2"] .slide-picture img`)), chromedp.WaitVisible(chromedp.CSS(`#offline`)))
	board.Do(chromedp.KeyEvent(kb.PageDown), chromedp.KeyEvent(kb.PageDown),
		chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="4"][data-local="true"] .slide-frame`)))
	board.Screenshot("board-offline", browsertest.Board)
	// A press that no server took for 30 s: the teacher is told plainly,
	// with what the board last showed, and the press stays queued.
	poll.CheckFor(t, 60*time.Second, 250*time.Millisecond, func() error {
		note := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#present-note")))
		if !strings.Contains(note, "Not on the board yet") || !strings.Contains(note, "the board shows slide 3") {
			return fmt.Errorf("the teacher is told %q", note)
		}
		return nil
	})
	teacher.Screenshot("present-outage-30s-phone", browsertest.Phone)

	for _, m := range c.Nodes {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReady(c.Nodes...)
	ctx, cancel := context.WithTimeout(board.Ctx(), 2*testcluster.ElectionBudget)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="3"][data-local="false"] .slide-frame`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#offline`))); err != nil {
		t.Fatalf("the board did not show the server's state with the teacher's kept press: %v", err)
	}
	board.Screenshot("board-back-online", browsertest.Board)
	settled(board, teacher, 3)
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#online.ok`)))
	// The note follows the badge: it waits for what the board did offline.
	poll.CheckFor(t, testcluster.ElectionBudget, 100*time.Millisecond, func() error {
		if note := browsertest.Get(teacher, chromedp.Text(chromedp.CSS(`#present-note`))); !strings.Contains(note, "The board was out of touch for") {
			return fmt.Errorf("the teacher was told %q after the board came back", note)
		}
		return nil
	})
	teacher.Screenshot("present-board-back-laptop", laptop1366)
	steer(t, api, boardID, plan.id, 5)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="5"] .slide-frame`)))
}

// Another device of the teacher's steers while the present view's write is
// on its way: a 412. When the other device moved the slide, its state
// stands and the teacher is told which device changed it; when it changed
// something else (a timer), the teacher's press is applied on top.
func TestBrowserPressMeetsAnotherDevice(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()
	plan, _ := presenting(t, board, teacher, n.URL(), n.URL(), []string{n.URL()}, 8)
	boardID := strings.TrimPrefix(browsertest.Get(teacher, chromedp.Evaluate[string](`location.hash`)), "#/boards/")
	phone := testcluster.NewClient([]string{n.URL()}, 10*time.Second)
	res, err := phone.Retry(t.Context(), "POST", "/api/v1/sessions", map[string]string{"email": "ada@school.example", "password": "analytical engine", "device": "phone"})
	if err != nil || res.Status != 201 {
		t.Fatalf("sign in on the phone: %v %v", err, res)
	}
	phone = phone.With(res.Map(t)["token"].(string))

	// Hold the view's writes in the browser until the phone has written.
	paused := chromedp.Events(teacher.Ctx(), fetch.RequestPaused)
	next, stop := iter.Pull2(paused)
	defer stop()
	if _, err := chromedp.Call(teacher.Ctx(), fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/state"}}}); err != nil {
		t.Fatal(err)
	}
	release := func() {
		t.Helper()
		ev, err, ok := next()
		if !ok || err != nil {
			t.Fatalf("no write to hold: %v", err)
		}
		if ev.Request.Method != "PUT" {
			t.Fatalf("held %s %s", ev.Request.Method, ev.Request.URL)
		}
		if _, err := chromedp.Call(teacher.Ctx(), fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil {
			t.Fatal(err)
		}
	}

	// The phone moves the slide: it wins, and the teacher hears from where.
	teacher.Do(press("next", 1, 0))
	writeState(t, phone, boardID, map[string]any{"lesson_id": plan.id, "slide": 3})
	release()
	settled(board, teacher, 3)
	if note := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#present-note"))); !strings.Contains(note, "Changed meanwhile on your phone") {
		t.Fatalf("the teacher was told %q", note)
	}
	teacher.Screenshot("present-other-device-phone", browsertest.Phone)

	// The phone starts a timer: the teacher's Next still lands, beside it.
	teacher.Do(press("next", 1, 0))
	writeState(t, phone, boardID, map[string]any{"lesson_id": plan.id, "slide": 3, "timer": map[string]string{"ends_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)}})
	release() // the first write: 412
	release() // the teacher's press on top of the phone's timer
	settled(board, teacher, 4)
	board.Do(chromedp.WaitVisible(chromedp.CSS("#timer")))
	if _, err := chromedp.Call(teacher.Ctx(), fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}

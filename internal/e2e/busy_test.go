package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// openPoll starts a node, a teacher with a paired board, and a Yes/No
// poll on it; it returns the poll's join code.
func openPoll(t *testing.T) (n *node.Node, cr *testcluster.Classroom, boardID, joinCode string) {
	t.Helper()
	n = testcluster.StartNode(t)
	cr = testcluster.NewClassroom(t, []string{n.URL()}, 1, 1)
	boardID = cr.Boards[0].ID
	res, err := cr.Teacher.Retry(t.Context(), "PUT", "/api/v1/boards/"+boardID+"/activity",
		map[string]any{"kind": "poll", "slide": 0, "options": []string{"Yes", "No"}, "status": "open"}, "If-Match", "0")
	if err != nil || res.Status != 200 {
		t.Fatalf("start the poll: %v %v", err, res)
	}
	joinCode, _ = res.Map(t)["join_code"].(string)
	return n, cr, boardID, joinCode
}

// shedTwice answers the pupil's first two joins, room reads and answers as
// a node past its bound on pupils' requests does (503, Retry-After, the
// API's error shape, nothing stored: they never reach the node), and notes
// every text the page shows as an error or as busy.
const shedTwice = `(() => {
  window.__shed = { join: 0, room: 0, answer: 0 };
  window.__errors = [];
  window.__busy = [];
  const real = window.fetch.bind(window);
  window.fetch = (url, init) => {
    const u = String(url);
    const kind = u.endsWith('/rooms/join') ? 'join' : u.endsWith('/answer') ? 'answer' : /\/rooms\/[^/]+$/.test(u) ? 'room' : '';
    if (kind && window.__shed[kind] < 2) {
      window.__shed[kind]++;
      return Promise.resolve(new Response(JSON.stringify({ error: { code: 'unavailable', message: 'This server is busy with many pupils at once; try again in a moment.' } }),
        { status: 503, headers: { 'Content-Type': 'application/json', 'Retry-After': '1' } }));
    }
    return real(url, init);
  };
  const seen = () => {
    for (const [cls, list] of [['.error', window.__errors], ['.busy', window.__busy]]) {
      for (const el of document.querySelectorAll(cls)) {
        if (el.textContent && !list.includes(el.textContent)) list.push(el.textContent);
      }
    }
  };
  document.addEventListener('DOMContentLoaded', () => {
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
})();`

// A pupil whose join, room read and answer a busy node turns away (503 with
// Retry-After) gets in and has the answer stored without seeing an
// error: the app says it is busy and sends them again after Retry-After.
// Nothing is stored twice: one pupil, one answer.
func TestBrowserPupilThroughABusyNode(t *testing.T) {
	n, cr, boardID, joinCode := openPoll(t)

	pupil := browsertest.Start(t).NewPage()
	if _, err := chromedp.Call(pupil.Ctx(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: shedTwice}); err != nil {
		t.Fatal(err)
	}
	pupil.Do(chromedp.EmulateViewport(int64(browsertest.Phone[0]), int64(browsertest.Phone[1])),
		chromedp.Navigate(n.URL()+"/join#code="+joinCode), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Sam"), chromedp.Click(chromedp.CSS("#join-go")),
		chromedp.WaitVisible(chromedp.CSS(`#join[data-status="open"] [data-choice="1"]`)))
	answered(pupil, chromedp.Click(chromedp.CSS(`[data-choice="1"]`)))

	if shed := js[map[string]float64](pupil, `window.__shed`); shed["join"] != 2 || shed["room"] != 2 || shed["answer"] != 2 {
		t.Fatalf("turned away: %v", shed)
	}
	if errs := js[[]string](pupil, `window.__errors`); len(errs) > 0 {
		t.Fatalf("the pupil saw errors: %q", errs)
	}
	if busy := js[[]string](pupil, `window.__busy`); len(busy) == 0 {
		t.Fatal("the pupil was not told the app is trying again")
	}
	res, err := cr.Teacher.Retry(t.Context(), "GET", "/api/v1/boards/"+boardID+"/activity", nil)
	if err != nil || res.Status != 200 {
		t.Fatalf("read the activity: %v %v", err, res)
	}
	if m := res.Map(t); fmt.Sprint(m["pupils"], m["answers"], m["counts"]) != "1 1 [0 1]" {
		t.Fatalf("stored: pupils %v, answers %v, counts %v", m["pupils"], m["answers"], m["counts"])
	}
}

package browsertest

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"
)

// axe-core 4.14.1 from npm (`npm pack axe-core@4.14.1`: package/axe.min.js,
// MPL-2.0, licences beside it). It is for the tests only: the apps never
// serve it.
//
//go:embed axe/axe.min.js
var axeSource string

// wcagTags are the rule sets of WCAG 2.0, 2.1 and 2.2 at levels A and AA.
const wcagTags = `['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa']`

// axeRun waits two frames (the page lays out at its new size and finishes
// starting transitions), then runs axe on the whole document and answers
// its violations in a shape Go reads.
const axeRun = `new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))
.then(() => axe.run(document, { runOnly: { type: 'tag', values: ` + wcagTags + ` }, resultTypes: ['violations'] }))
.then((r) => r.violations.map((v) => ({
  id: v.id, impact: v.impact || '', help: v.help,
  nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary || '' })),
})))`

// Violation is one axe rule a page breaks, with the elements that break it.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// Accessibility runs axe-core's WCAG 2.x A and AA rules on the page as it
// is now, at its current size, and answers the violations of every impact.
func (p *Page) Accessibility() []Violation {
	p.t.Helper()
	// The script is injected once per document: a navigation drops it.
	if !Get(p, chromedp.Evaluate[bool](`typeof axe === 'object'`)) {
		p.Do(chromedp.Evaluate[chromedp.Void](axeSource))
	}
	return Get(p, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
}

// CheckAccessible runs axe-core on the view the page shows at each of sizes
// (the phone and the laptop when none are given) and fails the test on a
// serious or critical violation; minor and moderate ones are logged. name
// says which view it was in the failure. The page is left at the last size.
func (p *Page) CheckAccessible(name string, sizes ...[2]int) {
	p.t.Helper()
	if len(sizes) == 0 {
		sizes = [][2]int{Phone, Laptop}
	}
	for _, size := range sizes {
		p.Do(chromedp.EmulateViewport(int64(size[0]), int64(size[1])))
		for _, v := range p.Accessibility() {
			msg := fmt.Sprintf("%s at %dx%d: %s (%s): %s%s", name, size[0], size[1], v.ID, v.Impact, v.Help, v.where())
			if v.Impact == "serious" || v.Impact == "critical" {
				p.t.Error(msg)
			} else {
				p.t.Log(msg)
			}
		}
	}
}

// where lists the elements a violation names, with axe's advice for each.
func (v Violation) where() string {
	var b strings.Builder
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n\t%s: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
	}
	return b.String()
}

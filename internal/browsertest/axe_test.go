package browsertest

import (
	"net/url"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// The check finds what it is there to find: a page with faint text and an
// input without a label breaks two rules, both serious or worse; the same
// page made right breaks none.
func TestAccessibilityFindsViolations(t *testing.T) {
	b := Start(t)
	p := b.NewPage()
	page := func(body string) string {
		return "data:text/html," + url.PathEscape(`<!doctype html><html lang="en"><head><title>t</title></head><body><main>`+body+`</main></body></html>`)
	}

	p.Do(chromedp.Navigate(page(`<h1>Lessons</h1><p style="color:#aaa">faint</p><input type="text">`)))
	var found []string
	for _, v := range p.Accessibility() {
		if v.Impact != "serious" && v.Impact != "critical" {
			t.Errorf("%s is %s, want serious or critical", v.ID, v.Impact)
		}
		found = append(found, v.ID)
	}
	slices.Sort(found)
	if !slices.Equal(found, []string{"color-contrast", "label"}) {
		t.Fatalf("violations %q, want color-contrast and label", found)
	}

	p.Do(chromedp.Navigate(page(`<h1>Lessons</h1><p style="color:#555">clear</p><label>Title <input type="text"></label>`)))
	if v := p.Accessibility(); len(v) != 0 {
		t.Fatalf("a clean page has violations: %+v", v)
	}
}

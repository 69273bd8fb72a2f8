package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Both apps install with the icons installers ask for (192 and 512 px,
// and a maskable one for Android's shapes), each served at its hashed URL
// with the size its manifest says; the board installs as a full-screen
// app, and every page names an Apple touch icon.
func TestManifestsHaveInstallableIcons(t *testing.T) {
	h, err := NewHandler()
	if err != nil {
		t.Fatal(err)
	}
	for p, display := range map[string]string{"/manifest.webmanifest": "standalone", "/board.webmanifest": "fullscreen"} {
		var mf struct {
			Display string
			Icons   []struct{ Src, Sizes, Type, Purpose string }
		}
		if err := json.Unmarshal(get(t, h, p).Body.Bytes(), &mf); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if mf.Display != display {
			t.Errorf("%s: display %q, want %q", p, mf.Display, display)
		}
		want := map[string]bool{"192x192": true, "512x512": true, "512x512 maskable": true}
		for _, icon := range mf.Icons {
			rec := get(t, h, icon.Src)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: icon %s: %d", p, icon.Src, rec.Code)
			}
			if icon.Type != "image/png" {
				continue
			}
			img, err := png.DecodeConfig(bytes.NewReader(rec.Body.Bytes()))
			if err != nil || fmt.Sprintf("%dx%d", img.Width, img.Height) != icon.Sizes {
				t.Fatalf("%s: icon %s is %dx%d (%v), the manifest says %s", p, icon.Src, img.Width, img.Height, err, icon.Sizes)
			}
			delete(want, strings.TrimSpace(icon.Sizes+" "+strings.ReplaceAll(icon.Purpose, "any", "")))
		}
		if len(want) > 0 {
			t.Errorf("%s has no icon for %v", p, want)
		}
	}
	for _, page := range []string{"/", "/board"} {
		m := regexp.MustCompile(`<link rel="apple-touch-icon" href="([^"]+)">`).FindStringSubmatch(get(t, h, page).Body.String())
		if m == nil {
			t.Fatalf("%s names no Apple touch icon", page)
		}
		if img, err := png.DecodeConfig(bytes.NewReader(get(t, h, m[1]).Body.Bytes())); err != nil || img.Width != 180 || img.Height != 180 {
			t.Fatalf("%s: Apple touch icon %s: %dx%d %v, want 180x180", page, m[1], img.Width, img.Height, err)
		}
	}
}

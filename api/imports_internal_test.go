package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/classboard/classboard/pptx"
)

// A node runs importSlots imports at once; one more is told to come back,
// before its body is read.
func TestImportSlotsFull(t *testing.T) {
	s := New(Config{}, Services{})
	for range importSlots {
		s.imports <- struct{}{}
	}
	r := httptest.NewRequest("POST", "/api/v1/lessons/import", strings.NewReader("not read"))
	r.Header.Set("Content-Type", pptx.ContentType)
	w := httptest.NewRecorder()
	s.importLesson(w, r)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), `"rate_limited"`) {
		t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body)
	}
	<-s.imports
	// With a slot free, the file is read (and this one refused).
	r = httptest.NewRequest("POST", "/api/v1/lessons/import", strings.NewReader("not a zip"))
	r.Header.Set("Content-Type", pptx.ContentType)
	w = httptest.NewRecorder()
	s.importLesson(w, r)
	if w.Code != http.StatusUnsupportedMediaType || !strings.Contains(w.Body.String(), `"unsupported_file"`) {
		t.Fatalf("with a free slot: %d %s", w.Code, w.Body)
	}
}

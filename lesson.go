package classboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Lesson limits. MaxSlides (board.go) bounds the number of slides.
const (
	MaxLessonTitleLength = 200        // characters
	MaxSlideTitleLength  = 200        // characters
	MaxSlideBodyLength   = 5000       // characters of Markdown
	MaxCaptionLength     = 300        // characters
	MaxNotesLength       = 5000       // characters of speaker notes
	MaxLinkURLLength     = 2000       // bytes
	MaxLessonBytes       = 512 * 1024 // the stored document, encoded
	// LessonSchemaVersion is "v" of stored lessons; readers accept every
	// older one. Version 2 added notes, pictures on text slides and links
	// in text.
	LessonSchemaVersion = 2
)

// Layouts of a text slide with a picture.
const (
	LayoutBeside = "beside" // text left, picture right (the default)
	LayoutBelow  = "below"  // picture above, text below
)

// Slide kinds.
const (
	SlideText  = "text"
	SlideImage = "image"
	SlideLink  = "link"
)

// Lesson orders of the list.
const (
	LessonsByUpdatedAt = "updated_at" // most recently changed first (the default)
	LessonsByTitle     = "title"      // A to Z, ignoring case
)

// Slide is one slide of a lesson. Which fields a slide has depends on its
// kind: text (Title, Body in Markdown, optionally a picture MediaID shown
// as Layout says), image (MediaID, Caption) or link (Title, URL). Every
// kind may carry speaker Notes, which only the teacher sees.
type Slide struct {
	Kind    string `json:"kind"`
	Title   string `json:"title,omitempty"`
	Body    string `json:"body,omitempty"`
	MediaID string `json:"media_id,omitempty"`
	Layout  string `json:"layout,omitempty"`
	Caption string `json:"caption,omitempty"`
	URL     string `json:"url,omitempty"`
	Notes   string `json:"notes,omitempty"`

	// Output only, added by the API to what it sends and ignored in what
	// it receives, so a client may send back a slide as it got it:
	// HTML is a text slide's body rendered and sanitized, Src a slide's
	// picture as a signed media URL, QR a link slide's QR code or that of
	// a text slide's featured link (a data: URL).
	HTML string `json:"html,omitempty"`
	Src  string `json:"src,omitempty"`
	QR   string `json:"qr,omitempty"`
}

// Lesson is a teacher's document: a title and ordered slides.
type Lesson struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Slides    []Slide   `json:"slides"`
	Revision  uint64    `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// LessonSummary is a lesson in a list: everything but its slides.
type LessonSummary struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	SlideCount int       `json:"slide_count"`
	Revision   uint64    `json:"revision"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// LessonInput is the body of POST and PUT /api/v1/lessons. The lesson's
// own read-only fields are accepted and ignored, so that a client can send
// back a lesson as GET returned it.
type LessonInput struct {
	Title  string  `json:"title"`
	Slides []Slide `json:"slides"`

	ID        json.RawMessage `json:"id,omitempty"`
	Revision  json.RawMessage `json:"revision,omitempty"`
	CreatedAt json.RawMessage `json:"created_at,omitempty"`
	UpdatedAt json.RawMessage `json:"updated_at,omitempty"`
}

// Normalize trims titles, captions and URLs and drops output-only fields.
// Bodies keep their spacing: Markdown needs it.
func (in *LessonInput) Normalize() {
	in.Title = strings.TrimSpace(in.Title)
	for i := range in.Slides {
		s := &in.Slides[i]
		s.Kind = strings.TrimSpace(s.Kind)
		s.Title = strings.TrimSpace(s.Title)
		s.Caption = strings.TrimSpace(s.Caption)
		s.URL = strings.TrimSpace(s.URL)
		s.MediaID = strings.TrimSpace(s.MediaID)
		s.Layout = strings.TrimSpace(s.Layout)
		if s.Kind == SlideText && s.MediaID != "" && s.Layout == "" {
			s.Layout = LayoutBeside
		}
		s.HTML, s.Src, s.QR = "", "", ""
	}
	if in.Slides == nil {
		in.Slides = []Slide{}
	}
}

// Validate returns EINVALID with per-field reasons; slide fields are named
// like "slides[3].body".
func (in *LessonInput) Validate() error {
	v := ValidationErrors{}
	if reason := checkLine(in.Title, MaxLessonTitleLength, true); reason != "" {
		v.Add("title", reason)
	}
	if len(in.Slides) > MaxSlides {
		v.Add("slides", fmt.Sprintf("has more than %d slides", MaxSlides))
		return v.Err()
	}
	for i, s := range in.Slides {
		s.validate(v, fmt.Sprintf("slides[%d]", i))
	}
	return v.Err()
}

func (s Slide) validate(v ValidationErrors, name string) {
	// Fields of another kind are refused rather than dropped: a client
	// that sends them believes something the server would not keep.
	foreign := func(field, value string) {
		if value != "" {
			v.Add(name+"."+field, "does not belong to a "+s.Kind+" slide")
		}
	}
	if reason := checkText(s.Notes, MaxNotesLength); reason != "" {
		v.Add(name+".notes", reason)
	}
	switch s.Kind {
	case SlideText:
		if s.Title == "" && strings.TrimSpace(s.Body) == "" {
			v.Add(name+".body", "is required when the title is empty")
		}
		if reason := checkLine(s.Title, MaxSlideTitleLength, false); reason != "" {
			v.Add(name+".title", reason)
		}
		if reason := checkText(s.Body, MaxSlideBodyLength); reason != "" {
			v.Add(name+".body", reason)
		}
		switch {
		case s.MediaID == "":
			foreign("layout", s.Layout)
		case !ValidMediaID(s.MediaID):
			v.Add(name+".media_id", "is not a media id")
		case s.Layout != LayoutBeside && s.Layout != LayoutBelow:
			v.Add(name+".layout", "must be beside or below")
		}
		foreign("caption", s.Caption)
		foreign("url", s.URL)
	case SlideImage:
		if !ValidMediaID(s.MediaID) {
			v.Add(name+".media_id", "is not a media id")
		}
		if reason := checkLine(s.Caption, MaxCaptionLength, false); reason != "" {
			v.Add(name+".caption", reason)
		}
		foreign("title", s.Title)
		foreign("body", s.Body)
		foreign("url", s.URL)
		foreign("layout", s.Layout)
	case SlideLink:
		if reason := checkLine(s.Title, MaxSlideTitleLength, true); reason != "" {
			v.Add(name+".title", reason)
		}
		if reason := ValidateLinkURL(s.URL); reason != "" {
			v.Add(name+".url", reason)
		}
		foreign("body", s.Body)
		foreign("media_id", s.MediaID)
		foreign("caption", s.Caption)
		foreign("layout", s.Layout)
	case "":
		v.Add(name+".kind", "is required")
	default:
		v.Add(name+".kind", "must be text, image or link")
	}
}

// ValidateLinkURL returns why u is not an acceptable link, or "".
func ValidateLinkURL(u string) string {
	if u == "" {
		return "is required"
	}
	if len(u) > MaxLinkURLLength {
		return fmt.Sprintf("is longer than %d bytes", MaxLinkURLLength)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" ||
		strings.ContainsFunc(u, func(r rune) bool { return isControl(r) || isBidiControl(r) || r == ' ' }) {
		return "must be an http or https address"
	}
	// https://school.example@evil.example/ reads as the school's site.
	if p.User != nil {
		return "must not contain a user name or password"
	}
	return ""
}

// checkLine returns why a one-line text is not acceptable, or "".
func checkLine(s string, max int, required bool) string {
	switch {
	case s == "" && required:
		return "is required"
	case !ValidLine(s):
		return "contains control characters"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("is longer than %d characters", max)
	}
	return ""
}

// checkText is checkLine for text with line breaks and tabs.
func checkText(s string, max int) string {
	switch {
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return isControl(r) && r != '\n' && r != '\r' && r != '\t' }):
		return "contains control characters"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("is longer than %d characters", max)
	}
	return ""
}

// LessonService keeps teachers' lessons. Every method acts for the teacher
// in ctx (AuthFromContext); another teacher's lesson is ENOTFOUND.
type LessonService interface {
	// CreateLesson stores a new lesson. Returns EINVALID for bad input and
	// ETOOLARGE for a document over MaxLessonBytes.
	CreateLesson(ctx context.Context, in LessonInput) (*Lesson, error)
	// Lesson returns one lesson.
	Lesson(ctx context.Context, id string) (*Lesson, error)
	// Lessons returns a page of the teacher's lessons in opts.Order
	// (LessonsByUpdatedAt by default). Returns EINVALID for an unknown
	// order or a cursor this list did not give.
	Lessons(ctx context.Context, opts ListOptions) (*Page[*LessonSummary], error)
	// UpdateLesson replaces a lesson if its revision is still ifMatch.
	// Returns EREVISIONMISMATCH with the current lesson as Current when
	// it is not.
	UpdateLesson(ctx context.Context, id string, ifMatch uint64, in LessonInput) (*Lesson, error)
	// DeleteLesson deletes a lesson; ifMatch 0 deletes whatever revision.
	DeleteLesson(ctx context.Context, id string, ifMatch uint64) error
}

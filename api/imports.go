package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/imaging"
	"github.com/classboard/classboard/internal/lessonfile"
	"github.com/classboard/classboard/internal/safezip"
	"github.com/classboard/classboard/pptx"
)

// Content types of a lesson file.
const (
	lessonFileType   = "application/zip"
	lessonFileTypeMS = "application/x-zip-compressed" // what Windows browsers send for .zip
)

// importSlots bounds imports running at once on a node: each unpacks and
// re-encodes up to a lesson's worth of pictures.
const importSlots = 2

// importLesson makes a new lesson from a .pptx or a lesson file. Nothing
// is stored until the whole file has been read, every picture checked and
// the lesson validated; pictures stored before a later step fails are
// removed again.
func (s *Server) importLesson(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != pptx.ContentType && ct != lessonFileType && ct != lessonFileTypeMS {
		s.writeError(w, r, classboard.Errorf(classboard.EUNSUPPORTEDFILE, "Import a PowerPoint file (.pptx) or a classboard lesson file (.zip)."))
		return
	}
	select {
	case s.imports <- struct{}{}:
		defer func() { <-s.imports }()
	default:
		s.writeError(w, r, &classboard.Error{Code: classboard.ERATELIMITED, Message: "Other imports are running on this server; try again in a moment.",
			RetryAfter: 2 * time.Second, Rule: "imports-at-once"})
		return
	}
	data, err := readUpload(w, r, s.cfg.MaxImportBytes, "file")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in *classboard.LessonInput
	var pictures map[string][]byte
	if ct == pptx.ContentType {
		in, pictures, err = s.readPPTX(data)
	} else {
		in, pictures, err = s.readLessonFile(data)
	}
	if err != nil {
		// A damaged, unsafe or oversized file is what an attack looks like.
		var e *classboard.Error
		if errors.As(err, &e) && (e.Code == classboard.EINVALIDFILE || e.Code == classboard.EFILETOOLARGE) {
			e.Rule = "import-refused"
		}
		s.writeError(w, r, err)
		return
	}
	if t := strings.TrimSpace(r.URL.Query().Get("title")); t != "" {
		in.Title = t
	}
	l, err := s.storeImport(r.Context(), in, pictures, ct == pptx.ContentType)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/lessons/"+l.ID)
	s.writeLesson(w, r, http.StatusCreated, l)
}

func (s *Server) readPPTX(data []byte) (*classboard.LessonInput, map[string][]byte, error) {
	deck, err := pptx.Parse(data, safezip.DefaultLimits(), classboard.MaxSlides)
	if err != nil {
		return nil, nil, err
	}
	in := &classboard.LessonInput{Title: deck.Title}
	for i, ds := range deck.Slides {
		if in.Title == "" {
			in.Title = ds.Title
		}
		first := len(in.Slides)
		pics := ds.Pictures
		if ds.Title != "" || ds.Body != "" || len(pics) == 0 {
			sl := classboard.Slide{Kind: classboard.SlideText, Title: clip(ds.Title, classboard.MaxSlideTitleLength),
				Body: clip(ds.Body, classboard.MaxSlideBodyLength)}
			if sl.Title == "" && strings.TrimSpace(sl.Body) == "" {
				sl.Title = fmt.Sprintf("Slide %d", i+1)
			}
			if len(pics) > 0 {
				sl.MediaID, sl.Layout, pics = pics[0], classboard.LayoutBeside, pics[1:]
			}
			in.Slides = append(in.Slides, sl)
		}
		for _, p := range pics {
			in.Slides = append(in.Slides, classboard.Slide{Kind: classboard.SlideImage, MediaID: p})
		}
		in.Slides[first].Notes = clip(ds.Notes, classboard.MaxNotesLength)
	}
	if in.Title == "" {
		in.Title = "Imported presentation"
	}
	in.Title = clip(in.Title, classboard.MaxLessonTitleLength)
	return in, deck.Pictures, nil
}

func (s *Server) readLessonFile(data []byte) (*classboard.LessonInput, map[string][]byte, error) {
	a, err := safezip.Open(data, safezip.DefaultLimits())
	if err != nil {
		return nil, nil, err
	}
	if !lessonfile.IsLessonFile(a) {
		return nil, nil, classboard.Errorf(classboard.EUNSUPPORTEDFILE, "The file is not a classboard lesson file (it has no lesson.json).")
	}
	return lessonfile.Read(a, s.cfg.MaxMediaBytes)
}

// clip cuts s to at most n characters, marking the cut: an imported slide
// keeps its start rather than being refused.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// storeImport checks every picture, then validates the lesson, then stores
// the pictures and the lesson. Slides name pictures by the keys of
// pictures until they are stored. skipBad drops pictures that are not an
// accepted image (a presentation's EMF logo) instead of refusing the file.
func (s *Server) storeImport(ctx context.Context, in *classboard.LessonInput, pictures map[string][]byte, skipBad bool) (*classboard.Lesson, error) {
	processed := map[string]*imaging.Image{} // key -> checked picture
	ids := map[string]string{}               // key -> media id
	for _, sl := range in.Slides {
		key := sl.MediaID
		if _, done := ids[key]; done || key == "" {
			continue
		}
		data, ok := pictures[key]
		if !ok {
			continue // a lesson file's picture that was deleted before export: it stays a placeholder
		}
		img, err := s.images.Process(ctx, data)
		switch {
		case (errors.Is(err, imaging.ErrUnsupported) || errors.Is(err, imaging.ErrTooManyPixels)) && skipBad:
			ids[key] = ""
			continue
		case errors.Is(err, imaging.ErrUnsupported):
			return nil, classboard.Errorf(classboard.EINVALIDFILE, "A picture in the file is not a PNG, JPEG, GIF or WebP image.")
		case errors.Is(err, imaging.ErrTooManyPixels):
			return nil, classboard.Errorf(classboard.EFILETOOLARGE, "A picture in the file has more than %d million pixels.", classboard.MaxImagePixels/1_000_000)
		case err != nil:
			return nil, err
		}
		if int64(len(img.Data)) > s.cfg.MaxMediaBytes {
			return nil, classboard.Errorf(classboard.EFILETOOLARGE, "A picture in the file is larger than %d MiB.", s.cfg.MaxMediaBytes>>20)
		}
		processed[key] = img
		ids[key] = classboard.MediaIDOf(img.Data)
	}
	slides := in.Slides[:0]
	for _, sl := range in.Slides {
		if id, ok := ids[sl.MediaID]; ok {
			sl.MediaID = id
		}
		switch {
		case sl.MediaID != "" || sl.Kind == classboard.SlideText:
		case sl.Kind == classboard.SlideImage:
			continue // only a dropped picture
		}
		if sl.Kind == classboard.SlideText && sl.MediaID == "" {
			sl.Layout = ""
		}
		slides = append(slides, sl)
	}
	in.Slides = slides
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	// The store refuses a lesson over its size too, but only after the
	// pictures are in; most such files are caught here first.
	if doc, err := json.Marshal(in); err == nil && len(doc) > classboard.MaxLessonBytes {
		return nil, classboard.Errorf(classboard.ETOOLARGE, "The lesson would be larger than %d KiB; split the file in two.", classboard.MaxLessonBytes/1024)
	}

	var created []string // pictures this import added, to remove on failure
	undo := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, id := range created {
			if err := s.svc.Media.DeleteMedia(ctx, id); err != nil {
				s.log.Warn("remove picture of a failed import", "request_id", requestID(ctx), "media", id, "err", err)
			}
		}
	}
	for _, img := range processed {
		id := classboard.MediaIDOf(img.Data)
		existed := s.svc.Media.MayReadMedia(ctx, id) == nil
		if _, err := s.svc.Media.CreateMedia(ctx, classboard.NewMedia{Data: img.Data, ContentType: img.ContentType, Width: img.Width, Height: img.Height}); err != nil {
			undo()
			return nil, err
		}
		if !existed {
			created = append(created, id)
		}
	}
	l, err := s.svc.Lessons.CreateLesson(ctx, *in)
	if err != nil {
		undo()
		return nil, err
	}
	return l, nil
}

// exportLesson answers a lesson file of one of the caller's lessons.
func (s *Server) exportLesson(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l, err := s.svc.Lessons.Lesson(ctx, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pictures := map[string]*classboard.MediaContent{}
	for _, sl := range l.Slides {
		id := sl.MediaID
		if id == "" || pictures[id] != nil {
			continue
		}
		switch err := s.svc.Media.MayReadMedia(ctx, id); classboard.ErrorCode(err) {
		case "":
		case classboard.ENOTFOUND:
			continue // deleted: the slide shows a placeholder, in the file too
		default:
			s.writeError(w, r, err)
			return
		}
		c, err := s.svc.Media.MediaContent(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		pictures[id] = c
	}
	var buf bytes.Buffer
	if err := lessonfile.Write(&buf, l, pictures); err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", lessonFileType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fileName(l.Title) + ".classboard.zip"}))
	h.Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away; nothing to do
}

// fileName makes a lesson title safe as a download's name.
func fileName(title string) string {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '-'
		}
		return r
	}, title)
	if name = strings.Trim(name, " .-"); name == "" {
		return "lesson"
	}
	return clip(name, 80)
}

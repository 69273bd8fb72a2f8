// Package lessonfile writes a lesson as one file and reads it back: a zip
// archive with a versioned lesson.json and the lesson's pictures under
// media/. A file to read is untrusted: it is opened with
// internal/safezip's limits, and its JSON and pictures are bounded.
package lessonfile

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/imaging"
	"github.com/classboard/classboard/internal/safezip"
)

// Format names the file's kind in lesson.json.
const Format = "classboard-lesson"

// maxLessonJSON bounds lesson.json: a lesson is at most
// classboard.MaxLessonBytes stored, and the file's fields are the same.
const maxLessonJSON = 2 * classboard.MaxLessonBytes

// document is lesson.json. Version is the lesson schema version
// (classboard.LessonSchemaVersion) the slides follow.
type document struct {
	Format  string             `json:"format"`
	Version int                `json:"version"`
	Title   string             `json:"title"`
	Slides  []classboard.Slide `json:"slides"`
	// Pictures maps each media id the slides use to its file in the
	// archive.
	Pictures map[string]string `json:"pictures"`
}

// Write writes lesson l as a lesson file to w, with the pictures given
// (media id to content); slides whose picture is not given keep its id
// and show a placeholder wherever the picture is missing.
func Write(w io.Writer, l *classboard.Lesson, pictures map[string]*classboard.MediaContent) error {
	doc := document{Format: Format, Version: classboard.LessonSchemaVersion, Title: l.Title, Pictures: map[string]string{}}
	for _, s := range l.Slides {
		s.HTML, s.Src, s.QR = "", "", ""
		doc.Slides = append(doc.Slides, s)
	}
	zw := zip.NewWriter(w)
	for id, c := range pictures {
		name := "media/" + id + extension(c.ContentType)
		doc.Pictures[id] = name
		// Pictures are compressed already.
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: c.ModTime})
		if err != nil {
			return fmt.Errorf("add picture: %w", err)
		}
		if _, err := fw.Write(c.Data); err != nil {
			return fmt.Errorf("write picture: %w", err)
		}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lesson.json: %w", err)
	}
	fw, err := zw.Create("lesson.json")
	if err != nil {
		return fmt.Errorf("add lesson.json: %w", err)
	}
	if _, err := fw.Write(data); err != nil {
		return fmt.Errorf("write lesson.json: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish lesson file: %w", err)
	}
	return nil
}

func extension(contentType string) string {
	switch contentType {
	case imaging.PNG:
		return ".png"
	case imaging.JPEG:
		return ".jpg"
	case imaging.GIF:
		return ".gif"
	case imaging.WebP:
		return ".webp"
	}
	return ".bin"
}

// IsLessonFile reports whether an opened archive is a lesson file.
func IsLessonFile(a *safezip.Archive) bool { return a.Has("lesson.json") }

// Read reads a lesson file opened as a. It returns the lesson as input for
// a new lesson, its slides still naming the file's media ids, and the
// bytes of each picture by that id (unchecked: the caller puts them
// through the media pipeline). Returns EINVALIDFILE for a damaged file or
// a version this server does not read, EFILETOOLARGE for parts over their
// limits.
func Read(a *safezip.Archive, maxPictureBytes int64) (*classboard.LessonInput, map[string][]byte, error) {
	data, err := a.Read("lesson.json", maxLessonJSON)
	if err != nil {
		return nil, nil, err
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || doc.Format != Format {
		return nil, nil, classboard.Errorf(classboard.EINVALIDFILE, "The lesson file's lesson.json is damaged.")
	}
	// Version 2 is the first the file format was written in.
	if doc.Version < 2 || doc.Version > classboard.LessonSchemaVersion {
		return nil, nil, classboard.Errorf(classboard.EINVALIDFILE, "The lesson file has version %d; this server reads versions 2 to %d.", doc.Version, classboard.LessonSchemaVersion)
	}
	pictures := map[string][]byte{}
	for id, name := range doc.Pictures {
		if !classboard.ValidMediaID(id) || path.Dir(name) != "media" || !strings.HasPrefix(path.Base(name), id) {
			return nil, nil, classboard.Errorf(classboard.EINVALIDFILE, "The lesson file names a picture wrongly.")
		}
		b, err := a.Read(name, maxPictureBytes)
		if err != nil {
			return nil, nil, err
		}
		pictures[id] = b
	}
	in := &classboard.LessonInput{Title: doc.Title, Slides: doc.Slides}
	return in, pictures, nil
}

// Package safezip opens uploaded zip archives (.pptx files, lesson files)
// without trusting them: the entry count, each entry's and all entries'
// unpacked size and each entry's compression ratio are bounded before
// anything is unpacked, names that could escape a folder are refused, and
// sizes are enforced while reading, since a header may lie.
package safezip

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/classboard/classboard"
)

// Limits bound what an archive may unpack to.
type Limits struct {
	MaxEntries    int   // files and folders in the archive
	MaxEntryBytes int64 // one entry, unpacked
	MaxTotalBytes int64 // every entry together, unpacked
	// MaxRatio bounds unpacked/packed size for entries over RatioFloor
	// bytes; small entries compress well legitimately.
	MaxRatio   int64
	RatioFloor int64
}

// DefaultLimits fit any real presentation of a lesson's size (200 slides
// with a picture each) with room to spare.
func DefaultLimits() Limits {
	return Limits{MaxEntries: 4000, MaxEntryBytes: 64 << 20, MaxTotalBytes: 256 << 20, MaxRatio: 100, RatioFloor: 1 << 20}
}

// Archive is an opened archive whose entries are read by name.
type Archive struct {
	files map[string]*zip.File
	lim   Limits
	read  int64 // bytes unpacked so far, against MaxTotalBytes
}

// Open checks data's directory against lim. Returns EUNSUPPORTEDFILE for
// data that is not a zip archive, EFILETOOLARGE when the directory
// promises more than lim allows, EINVALIDFILE for unsafe or duplicate
// names.
func Open(data []byte, lim Limits) (*Archive, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &classboard.Error{Code: classboard.EUNSUPPORTEDFILE, Message: "The file is not a .pptx or lesson file (it is not a zip archive)."}
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, classboard.Errorf(classboard.EFILETOOLARGE, "The file holds more than %d parts.", lim.MaxEntries)
	}
	a := &Archive{files: make(map[string]*zip.File, len(zr.File)), lim: lim}
	var total uint64
	for _, f := range zr.File {
		if !safeName(f.Name) {
			return nil, classboard.Errorf(classboard.EINVALIDFILE, "The file holds a part named %q, which is not allowed.", clip(f.Name))
		}
		if _, dup := a.files[f.Name]; dup {
			return nil, classboard.Errorf(classboard.EINVALIDFILE, "The file holds two parts named %q.", clip(f.Name))
		}
		if f.UncompressedSize64 > uint64(lim.MaxEntryBytes) {
			return nil, classboard.Errorf(classboard.EFILETOOLARGE, "A part of the file unpacks to more than %d MiB.", lim.MaxEntryBytes>>20)
		}
		if f.UncompressedSize64 > uint64(lim.RatioFloor) && f.UncompressedSize64 > uint64(lim.MaxRatio)*max(f.CompressedSize64, 1) {
			return nil, classboard.Errorf(classboard.EFILETOOLARGE, "A part of the file is compressed more than %d to 1, as only zip bombs are.", lim.MaxRatio)
		}
		if total += f.UncompressedSize64; total > uint64(lim.MaxTotalBytes) {
			return nil, classboard.Errorf(classboard.EFILETOOLARGE, "The file unpacks to more than %d MiB.", lim.MaxTotalBytes>>20)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, classboard.Errorf(classboard.EINVALIDFILE, "The file uses a compression method that is not supported.")
		}
		a.files[f.Name] = f
	}
	return a, nil
}

// safeName refuses names that are absolute, climb out with "..", use
// backslashes or drive letters, or hold control characters: a part name
// is only ever looked up, but a name like that marks a hostile file.
func safeName(name string) bool {
	if name == "" || len(name) > 1024 || strings.ContainsAny(name, "\\\x00:") || strings.HasPrefix(name, "/") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// Has reports whether the archive holds name.
func (a *Archive) Has(name string) bool { _, ok := a.files[name]; return ok }

// Read unpacks one entry, at most maxBytes of it (and never more than
// the limits). Returns EINVALIDFILE for a missing or damaged entry,
// EFILETOOLARGE for one over a limit.
func (a *Archive) Read(name string, maxBytes int64) ([]byte, error) {
	f, ok := a.files[name]
	if !ok {
		return nil, classboard.Errorf(classboard.EINVALIDFILE, "The file lacks its part %q.", clip(name))
	}
	limit := min(maxBytes, a.lim.MaxEntryBytes, a.lim.MaxTotalBytes-a.read)
	if f.UncompressedSize64 > uint64(limit) {
		return nil, classboard.Errorf(classboard.EFILETOOLARGE, "The part %q of the file is too large.", clip(name))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, classboard.Errorf(classboard.EINVALIDFILE, "The part %q of the file is damaged.", clip(name))
	}
	defer rc.Close()
	// The header's size is checked by archive/zip at the end of the
	// entry; the limit stops an entry that lies about it before then.
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	a.read += int64(len(data))
	switch {
	case int64(len(data)) > limit:
		return nil, classboard.Errorf(classboard.EFILETOOLARGE, "The part %q of the file is too large.", clip(name))
	case err != nil:
		return nil, &classboard.Error{Code: classboard.EINVALIDFILE, Message: fmt.Sprintf("The part %q of the file is damaged.", clip(name))}
	}
	return data, nil
}

// Resolve returns the part a relationship target names, relative to the
// folder of the part "from", or "" when it points outside the archive.
func Resolve(from, target string) string {
	if strings.HasPrefix(target, "/") {
		target = strings.TrimPrefix(target, "/")
	} else {
		target = path.Join(path.Dir(from), target)
	}
	target = path.Clean(target)
	if target == "." || strings.HasPrefix(target, "../") || target == ".." || !safeName(target) {
		return ""
	}
	return target
}

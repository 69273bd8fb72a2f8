package safezip

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"

	"github.com/classboard/classboard"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ from, target, want string }{
		{"ppt/slides/slide1.xml", "../media/image1.png", "ppt/media/image1.png"},
		{"ppt/presentation.xml", "slides/slide1.xml", "ppt/slides/slide1.xml"},
		{"", "ppt/presentation.xml", "ppt/presentation.xml"},
		{"ppt/slides/slide1.xml", "/ppt/media/a.png", "ppt/media/a.png"},
		{"ppt/slides/slide1.xml", "../../../etc/passwd", ""},
		{"ppt/slides/slide1.xml", "..\\..\\x", ""},
		{"ppt/slides/slide1.xml", "c:/x", ""},
	} {
		if got := Resolve(tc.from, tc.target); got != tc.want {
			t.Errorf("Resolve(%q, %q) = %q, want %q", tc.from, tc.target, got, tc.want)
		}
	}
}

func archive(t *testing.T, names ...string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOpenRefusesUnsafeNames(t *testing.T) {
	for _, name := range []string{"../x", "a/../../x", "/etc/passwd", "a\\b", "c:x", "a\x01b", "a/b/.."} {
		if _, err := Open(archive(t, name), DefaultLimits()); classboard.ErrorCode(err) != classboard.EINVALIDFILE {
			t.Errorf("%q: got %v", name, err)
		}
	}
	if _, err := Open(archive(t, "a.xml", "a.xml"), DefaultLimits()); classboard.ErrorCode(err) != classboard.EINVALIDFILE {
		t.Errorf("duplicate names: got %v", err)
	}
	a, err := Open(archive(t, "ppt/slides/slide1.xml", "[Content_Types].xml"), DefaultLimits())
	if err != nil || !a.Has("[Content_Types].xml") {
		t.Fatalf("safe names: %v", err)
	}
}

// The total limit counts what was unpacked, across reads.
func TestReadCountsTotal(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range []string{"a", "b", "c"} {
		w, _ := zw.Create(n)
		w.Write([]byte(strings.Repeat(n, 400)))
	}
	zw.Close()
	lim := DefaultLimits()
	lim.MaxTotalBytes = 1000
	if _, err := Open(b.Bytes(), lim); classboard.ErrorCode(err) != classboard.EFILETOOLARGE {
		t.Fatalf("directory over the total: %v", err)
	}
	lim.MaxTotalBytes = 1200
	a, err := Open(b.Bytes(), lim)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if _, err := a.Read(n, 1<<20); err != nil {
			t.Fatalf("read %s: %v", n, err)
		}
	}
	if _, err := a.Read("a", 1<<20); classboard.ErrorCode(err) != classboard.EFILETOOLARGE {
		t.Fatalf("reading past the total: %v", err)
	}
}

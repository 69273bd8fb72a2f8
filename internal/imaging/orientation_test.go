package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// exifJPEG returns a JPEG of img whose EXIF says orientation o.
func exifJPEG(t *testing.T, img image.Image, o uint16, order binary.ByteOrder) []byte {
	t.Helper()
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	var tiff bytes.Buffer
	if order == binary.LittleEndian {
		tiff.WriteString("II")
	} else {
		tiff.WriteString("MM")
	}
	binary.Write(&tiff, order, uint16(42))
	binary.Write(&tiff, order, uint32(8))
	binary.Write(&tiff, order, uint16(1))      // one entry
	binary.Write(&tiff, order, uint16(0x0112)) // Orientation
	binary.Write(&tiff, order, uint16(3))      // SHORT
	binary.Write(&tiff, order, uint32(1))
	binary.Write(&tiff, order, o)
	binary.Write(&tiff, order, uint16(0))
	binary.Write(&tiff, order, uint32(0)) // no next directory
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var out bytes.Buffer
	out.Write([]byte{0xFF, 0xD8, 0xFF, 0xE1})
	binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(enc.Bytes()[2:]) // the rest after SOI
	return out.Bytes()
}

// A portrait phone photo stored landscape with orientation 6 comes out
// portrait, with its top-left red corner where a viewer would see it.
func TestProcessAppliesEXIFOrientation(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			src.Set(x, y, color.RGBA{0, 0, 255, 255})
		}
	}
	for y := range 8 {
		for x := range 8 {
			src.Set(x, y, color.RGBA{255, 0, 0, 255}) // stored top-left
		}
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		data := exifJPEG(t, src, 6, order)
		if got := jpegOrientation(data); got != 6 {
			t.Fatalf("%v: orientation %d, want 6", order, got)
		}
		out, err := New(1<<24, 1).Process(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		if out.Width != 32 || out.Height != 64 {
			t.Fatalf("%v: %dx%d, want 32x64 (portrait)", order, out.Width, out.Height)
		}
		img, err := jpeg.Decode(bytes.NewReader(out.Data))
		if err != nil {
			t.Fatal(err)
		}
		// Rotated 90° clockwise, the stored top-left is now the top-right.
		if r, _, b, _ := img.At(28, 3).RGBA(); r < 0x8000 || b > 0x8000 {
			t.Fatalf("%v: top-right pixel is not red after rotation", order)
		}
		if bytes.Contains(out.Data, []byte("Exif")) {
			t.Fatal("EXIF survived re-encoding")
		}
	}
}

func TestOrientationOfEveryValue(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	src.Set(0, 0, color.RGBA{255, 0, 0, 255})
	want := map[int]image.Point{1: {0, 0}, 2: {2, 0}, 3: {2, 1}, 4: {0, 1}, 5: {0, 0}, 6: {1, 0}, 7: {1, 2}, 8: {0, 2}}
	for o, p := range want {
		got := orient(src, o)
		if r, _, _, _ := got.At(p.X, p.Y).RGBA(); r != 0xFFFF {
			t.Errorf("orientation %d: the marked pixel is not at %v", o, p)
		}
	}
}

func TestOrientationIgnoresBrokenMetadata(t *testing.T) {
	for _, data := range [][]byte{
		nil,
		{0xFF, 0xD8},
		{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'},
		append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10}, []byte("Exif\x00\x00II*\x00\xff\xff\xff\xff")...),
	} {
		if o := jpegOrientation(data); o != 1 {
			t.Errorf("%x: orientation %d, want 1", data, o)
		}
	}
}

func FuzzOrientation(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d out of range", o)
		}
	})
}

package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// picture is a small image with a gradient, so encoders have work to do.
func picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withEXIF inserts an APP1 segment after the JPEG's SOI marker, as a camera
// writes one, holding the given text.
func withEXIF(jpg []byte, text string) []byte {
	payload := append([]byte("Exif\x00\x00"), text...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// pngChunk returns one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// withTextChunk inserts a tEXt chunk right after IHDR.
func withTextChunk(p []byte, key, value string) []byte {
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, pngChunk("tEXt", []byte(key+"\x00"+value))...)
	return append(out, p[ihdrEnd:]...)
}

// pixelFlood returns a valid small PNG whose header claims w×h pixels.
func pixelFlood(t testing.TB, w, h uint32) []byte {
	p := encodePNG(t, picture(1, 1))
	ihdr := append([]byte{}, p[16:29]...)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	out := append([]byte{}, p[:8]...)
	out = append(out, pngChunk("IHDR", ihdr)...)
	return append(out, p[33:]...)
}

// jpegFlood patches a JPEG's frame header to claim w×h pixels.
func jpegFlood(t testing.TB, w, h uint16) []byte {
	j := encodeJPEG(t, picture(8, 8))
	i := bytes.Index(j, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	out := append([]byte{}, j...)
	binary.BigEndian.PutUint16(out[i+5:], h)
	binary.BigEndian.PutUint16(out[i+7:], w)
	return out
}

func animatedGIF(t testing.TB) []byte {
	pal := color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}}
	var frames []*image.Paletted
	for i := range 3 {
		f := image.NewPaletted(image.Rect(0, 0, 20, 10), pal)
		f.SetColorIndex(i, i, uint8(i%3))
		frames = append(frames, f)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{10, 10, 10}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readFile(t testing.TB, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProcessAcceptsAndReencodes(t *testing.T) {
	p := New(1_000_000, 2)
	for _, tc := range []struct {
		name   string
		data   []byte
		wantCT string
		w, h   int
		gone   string // must not survive re-encoding
	}{
		{"png", encodePNG(t, picture(30, 20)), PNG, 30, 20, ""},
		{"png with text chunk and trailer", append(withTextChunk(encodePNG(t, picture(30, 20)), "Comment", "GPS 47.37N 8.54E"), "<script>alert(1)</script>"...), PNG, 30, 20, "GPS 47.37N"},
		{"jpeg with exif", withEXIF(encodeJPEG(t, picture(40, 30)), "GPSLatitude 47.37 SchoolCamera"), JPEG, 40, 30, "GPSLatitude"},
		{"jpeg with html appended", append(encodeJPEG(t, picture(16, 16)), "<html><script>alert(1)</script>"...), JPEG, 16, 16, "<script>"},
		{"animated gif keeps the first frame", animatedGIF(t), PNG, 20, 10, ""},
		{"lossless webp", readFile(t, "testdata/gopher-doc.1bpp.lossless.webp"), PNG, 0, 0, ""},
		{"lossy webp", readFile(t, "testdata/blue-purple-pink.lossy.webp"), JPEG, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := p.Process(context.Background(), tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if img.ContentType != tc.wantCT || Sniff(img.Data) != tc.wantCT {
				t.Fatalf("content type %s (sniffed %q), want %s", img.ContentType, Sniff(img.Data), tc.wantCT)
			}
			if tc.w > 0 && (img.Width != tc.w || img.Height != tc.h) {
				t.Fatalf("size %dx%d, want %dx%d", img.Width, img.Height, tc.w, tc.h)
			}
			cfg, _, err := image.DecodeConfig(bytes.NewReader(img.Data))
			if err != nil || cfg.Width != img.Width || cfg.Height != img.Height {
				t.Fatalf("output does not decode as %dx%d: %v %+v", img.Width, img.Height, err, cfg)
			}
			if tc.gone != "" && bytes.Contains(img.Data, []byte(tc.gone)) {
				t.Fatalf("%q survived re-encoding", tc.gone)
			}
		})
	}
}

func TestProcessRefuses(t *testing.T) {
	p := New(1_000_000, 2)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrUnsupported},
		{"html", []byte("<!doctype html><html><script>alert(1)</script></html>"), ErrUnsupported},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), ErrUnsupported},
		{"script", []byte("alert(document.cookie)"), ErrUnsupported},
		{"png signature then html", append([]byte("\x89PNG\r\n\x1a\n"), "<html><script>alert(1)</script>"...), ErrUnsupported},
		// "=1" reads as a width of 12,605 pixels: refused before decoding.
		{"gif header javascript polyglot", []byte("GIF89a=1;alert(document.domain)//\x00\x00"), ErrTooManyPixels},
		{"gif header then script", append([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), "*/=1;alert(1)//"...), ErrUnsupported},
		{"truncated png", encodePNG(t, picture(30, 20))[:60], ErrUnsupported},
		{"png pixel flood", pixelFlood(t, 100_000, 100_000), ErrTooManyPixels},
		{"png just over the limit", pixelFlood(t, 1001, 1000), ErrTooManyPixels},
		{"png zero width", pixelFlood(t, 0, 10), ErrUnsupported},
		{"jpeg pixel flood", jpegFlood(t, 65_000, 65_000), ErrTooManyPixels},
		{"bmp", append([]byte("BM"), make([]byte, 60)...), ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := p.Process(context.Background(), tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want %v", img, err, tc.want)
			}
		})
	}
}

func TestSniffIgnoresNames(t *testing.T) {
	for data, want := range map[string]string{
		"\x89PNG\r\n\x1a\nrest": PNG, "\xff\xd8\xff\xe0": JPEG, "GIF87a": GIF, "GIF89a": GIF,
		"RIFF\x00\x00\x00\x00WEBPVP8 ": WebP, "RIFF\x00\x00\x00\x00AVI ": "", "<svg": "", "": "",
	} {
		if got := Sniff([]byte(data)); got != want {
			t.Errorf("Sniff(%q) = %q, want %q", data, got, want)
		}
	}
}

func FuzzProcess(f *testing.F) {
	f.Add(encodePNG(f, picture(5, 4)))
	f.Add(encodeJPEG(f, picture(9, 7)))
	f.Add(animatedGIF(f))
	f.Add(readFile(f, "testdata/gopher-doc.1bpp.lossless.webp"))
	f.Add(pixelFlood(f, 5000, 5000))
	f.Add([]byte("GIF89a=1;alert(1)//"))
	const maxPixels = 100_000
	p := New(maxPixels, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := p.Process(context.Background(), data)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if img.Width*img.Height > maxPixels {
			t.Fatalf("accepted %dx%d", img.Width, img.Height)
		}
		if ct := Sniff(img.Data); ct != img.ContentType || (ct != PNG && ct != JPEG) {
			t.Fatalf("output sniffs as %q, says %q", ct, img.ContentType)
		}
		// What is stored must itself pass: re-encoding is a fixed point
		// of validity.
		if _, err := p.Process(context.Background(), img.Data); err != nil {
			t.Fatalf("output refused: %v", err)
		}
	})
}

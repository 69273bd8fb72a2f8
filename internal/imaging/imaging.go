// Package imaging checks uploaded pictures and re-encodes them. A picture
// is recognised by its bytes only, its size in pixels is checked before it
// is decoded, and what is stored is a fresh encoding of the pixels: camera
// data, GPS positions, comments and anything appended (polyglots) are gone.
package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Content types of the formats accepted.
const (
	PNG  = "image/png"
	JPEG = "image/jpeg"
	GIF  = "image/gif"
	WebP = "image/webp"
)

// JPEGQuality is the quality photos are re-encoded at: visually the same
// as a camera's output on a board, at about the same size.
const JPEGQuality = 90

// Errors Process returns for pictures it refuses.
var (
	ErrUnsupported   = errors.New("not a PNG, JPEG, GIF or WebP image")
	ErrTooManyPixels = errors.New("image has too many pixels")
)

// Image is a checked and re-encoded picture.
type Image struct {
	Data          []byte
	ContentType   string
	Width, Height int
}

// Processor re-encodes pictures, a bounded number at a time: a decoded
// picture of MaxPixels takes 4 bytes per pixel.
type Processor struct {
	maxPixels int
	slots     chan struct{}
}

// New returns a processor refusing pictures over maxPixels and decoding at
// most concurrent pictures at once.
func New(maxPixels, concurrent int) *Processor {
	return &Processor{maxPixels: maxPixels, slots: make(chan struct{}, max(1, concurrent))}
}

// Sniff returns the content type of data by its first bytes (the formats'
// signatures), or "" for anything else.
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return JPEG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return GIF
	case len(data) >= 12 && bytes.HasPrefix(data, []byte("RIFF")) && string(data[8:12]) == "WEBP":
		return WebP
	}
	return ""
}

type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecFor returns the decoder of the format found by Sniff, never of what
// the upload claims; image.Decode's registry would also accept other formats.
func codecFor(ct string) codec {
	switch ct {
	case PNG:
		return codec{png.DecodeConfig, png.Decode}
	case JPEG:
		return codec{jpeg.DecodeConfig, jpeg.Decode}
	case GIF:
		// gif.Decode reads the first frame only: animation is dropped, and
		// with it the unbounded work of decoding every frame of a GIF bomb.
		return codec{gif.DecodeConfig, gif.Decode}
	}
	return codec{webp.DecodeConfig, webp.Decode}
}

// Process checks data and returns it re-encoded: JPEG stays JPEG, lossy
// WebP becomes JPEG (there is no WebP encoder), everything else PNG.
// Returns ErrUnsupported or ErrTooManyPixels, wrapped with the reason.
func (p *Processor) Process(ctx context.Context, data []byte) (*Image, error) {
	ct := Sniff(data)
	if ct == "" {
		return nil, ErrUnsupported
	}
	c := codecFor(ct)
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrUnsupported, ct, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %dx%d pixels", ErrUnsupported, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(p.maxPixels) {
		return nil, fmt.Errorf("%w: %dx%d is over %d", ErrTooManyPixels, cfg.Width, cfg.Height, p.maxPixels)
	}
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s data: %v", ErrUnsupported, ct, err)
	}
	b := img.Bounds()
	// A GIF frame may be smaller than its screen, never larger.
	if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx() > cfg.Width || b.Dy() > cfg.Height {
		return nil, fmt.Errorf("%w: decoded %v, header %dx%d", ErrUnsupported, b, cfg.Width, cfg.Height)
	}
	if ct == JPEG {
		img = orient(img, jpegOrientation(data))
		b = img.Bounds()
	}
	out := &Image{Width: b.Dx(), Height: b.Dy()}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if _, lossy := img.(*image.YCbCr); ct == JPEG || lossy {
		out.ContentType = JPEG
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: JPEGQuality})
	} else {
		out.ContentType = PNG
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	}
	if err != nil {
		return nil, fmt.Errorf("re-encode %s: %w", ct, err)
	}
	out.Data = buf.Bytes()
	return out, nil
}

package classboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Media limits and defaults.
const (
	DefaultMaxMediaBytes  = 10 << 20   // one upload, as sent
	DefaultMaxImportBytes = 100 << 20  // one imported .pptx or lesson file, as sent
	DefaultMediaQuota     = 1 << 30    // everything one teacher keeps
	MaxImagePixels        = 40_000_000 // width × height; refused before decoding
	MaxSignedURLLifetime  = time.Hour  // a signed media URL is valid at most this long
	MediaSchemaVersion    = 1          // "v" of stored media records
)

// ErrNoMedia is the answer about a picture that does not exist or that the
// caller may not see: the two look alike, so ids cannot be probed.
var ErrNoMedia = Errorf(ENOTFOUND, "No such picture.")

// Media is an uploaded picture. Its id is the hex SHA-256 of the stored
// (re-encoded) bytes: the same picture uploaded twice is stored once.
type Media struct {
	ID          string    `json:"id"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	CreatedAt   time.Time `json:"created_at"`
	// URL is a signed URL of the bytes (relative to the API origin), set
	// by the API; <img> can load it without an Authorization header.
	URL string `json:"url,omitempty"`
	// Lessons is how many of the teacher's lessons use the picture, in
	// MediaList only; nil when the node cannot tell cheaply right now.
	Lessons *int `json:"lessons,omitempty"`
}

// MediaList is a page of a teacher's uploads with the bytes they use.
type MediaList struct {
	Page[*Media]
	Used  int64 `json:"used"`
	Quota int64 `json:"quota"`
}

// NewMedia is a picture checked and re-encoded, ready to store.
type NewMedia struct {
	Data          []byte
	ContentType   string
	Width, Height int
}

// MediaContent is the stored bytes of a picture.
type MediaContent struct {
	ID          string
	ContentType string
	Data        []byte
	ModTime     time.Time
}

// MediaIDOf returns the id of a picture whose stored bytes are data.
func MediaIDOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ValidMediaID reports whether id looks like a media id (lower-case hex
// SHA-256), so that nothing else ever reaches a store key.
func ValidMediaID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// MediaService keeps uploaded pictures. Methods act for the caller in ctx
// (AuthFromContext); media the caller may not read is ENOTFOUND.
type MediaService interface {
	// CreateMedia stores a picture for the teacher in ctx, or returns the
	// teacher's existing record of the same bytes. Returns EQUOTA when
	// the teacher's quota cannot hold it.
	CreateMedia(ctx context.Context, in NewMedia) (*Media, error)
	// MediaList returns a page of the teacher's uploads, newest first,
	// each with the number of lessons using it when the node knows it
	// without reading the lessons (its view is current).
	MediaList(ctx context.Context, opts ListOptions) (*MediaList, error)
	// DeleteMedia erases the teacher's record of a picture, and the bytes
	// themselves once no other record refers to them.
	DeleteMedia(ctx context.Context, id string) error
	// MayReadMedia returns nil when the caller in ctx may read media id,
	// ENOTFOUND otherwise.
	MayReadMedia(ctx context.Context, id string) error
	// MediaContent returns the bytes of a picture without checking who
	// asks: callers check MayReadMedia or a signed URL first.
	MediaContent(ctx context.Context, id string) (*MediaContent, error)
	// MediaSigningKey returns the key that signs media URLs, the same on
	// every node.
	MediaSigningKey(ctx context.Context) ([]byte, error)
}

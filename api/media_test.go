package api_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

type mediaDoc struct {
	ID          string `json:"id"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

func pngOf(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegWithGPS is a photo carrying an EXIF segment with a position, as
// phones write them.
func jpegWithGPS(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	payload := []byte("Exif\x00\x00GPSLatitude 47.3769N GPSLongitude 8.5417E")
	seg := binary.BigEndian.AppendUint16([]byte{0xff, 0xe1}, uint16(len(payload)+2))
	out := append(append(append([]byte{}, b.Bytes()[:2]...), seg...), payload...)
	return append(out, b.Bytes()[2:]...)
}

// pixelFloodPNG is a 1×1 PNG whose header claims 50,000×50,000 pixels.
func pixelFloodPNG(t testing.TB) []byte {
	p := pngOf(t, 1, 1, 1)
	binary.BigEndian.PutUint32(p[16:], 50_000)
	binary.BigEndian.PutUint32(p[20:], 50_000)
	// The IHDR checksum must match, or the decoder stops before the size.
	crc := crc32.ChecksumIEEE(p[12:29])
	binary.BigEndian.PutUint32(p[29:], crc)
	return p
}

func upload(t testing.TB, c *apitest.Client, token string, data []byte, contentType string) *apitest.Response {
	t.Helper()
	return c.With(token).Do(t, "POST", "/api/v1/media", data, "Content-Type", contentType)
}

func withMediaLimits(maxBytes, quota int64) testcluster.Option {
	return func(cfg *node.Config) {
		cfg.MaxMediaBytes = maxBytes
		cfg.Store.MediaQuota = quota
	}
}

func TestMediaScenarios(t *testing.T) {
	n := testcluster.StartNode(t, withMediaLimits(200<<10, 300<<10))
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "laptop")
	photo := pngOf(t, 40, 30, 1)
	var m mediaDoc

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "upload without a token", Method: "POST", Path: "/api/v1/media", Body: photo, Headers: []string{"Content-Type", "image/png"}, Status: 401},
		{Name: "html claiming to be a png", Method: "POST", Path: "/api/v1/media", Token: ada, Body: "<html><script>alert(1)</script></html>", Headers: []string{"Content-Type", "image/png"}, Status: 415, Code: "unsupported_media_type"},
		{Name: "svg", Method: "POST", Path: "/api/v1/media", Token: ada, Body: `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, Headers: []string{"Content-Type", "image/svg+xml"}, Status: 415},
		{Name: "script named like a picture", Method: "POST", Path: "/api/v1/media", Token: ada, Body: "alert(document.cookie)", Headers: []string{"Content-Type", "image/jpeg"}, Status: 415},
		{Name: "png signature then html", Method: "POST", Path: "/api/v1/media", Token: ada, Body: "\x89PNG\r\n\x1a\n<html><script>alert(1)</script>", Headers: []string{"Content-Type", "image/png"}, Status: 415},
		{Name: "pixel flood", Method: "POST", Path: "/api/v1/media", Token: ada, Body: pixelFloodPNG(t), Headers: []string{"Content-Type", "image/png"}, Status: 413, Code: "too_large"},
		{Name: "over the size limit", Method: "POST", Path: "/api/v1/media", Token: ada, Body: append(pngOf(t, 10, 10, 2), make([]byte, 201<<10)...), Headers: []string{"Content-Type", "image/png"}, Status: 413, Code: "too_large"},
		{Name: "upload", Method: "POST", Path: "/api/v1/media", Token: ada, Body: photo, Headers: []string{"Content-Type", "application/octet-stream"}, Status: 201, Check: func(t *testing.T, r *apitest.Response) error {
			r.JSON(t, &m)
			if len(m.ID) != 64 || m.ContentType != "image/png" || m.Size == 0 || !strings.HasPrefix(m.URL, "/api/v1/media/"+m.ID+"?exp=") {
				return apitest.Errorf("media %s", r.Body)
			}
			return nil
		}},
		{Name: "the same picture again is the same media", Method: "POST", Path: "/api/v1/media", Token: ada, Body: photo, Headers: []string{"Content-Type", "image/png"}, Status: 201, Check: func(t *testing.T, r *apitest.Response) error {
			var again mediaDoc
			r.JSON(t, &again)
			if again.ID != m.ID {
				return apitest.Errorf("ids %s and %s", m.ID, again.ID)
			}
			return nil
		}},
	})
	path := "/api/v1/media/" + m.ID
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "owner reads", Method: "GET", Path: path, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			h := r.Header
			switch {
			case h.Get("Content-Type") != "image/png" || h.Get("ETag") != `"`+m.ID+`"` || h.Get("X-Content-Type-Options") != "nosniff":
				return apitest.Errorf("headers %v", h)
			case h.Get("Content-Security-Policy") != "default-src 'none'; sandbox" || !strings.HasPrefix(h.Get("Cache-Control"), "private, max-age="):
				return apitest.Errorf("headers %v", h)
			case int64(len(r.Body)) != m.Size:
				return apitest.Errorf("%d bytes, want %d", len(r.Body), m.Size)
			}
			return nil
		}},
		{Name: "range", Method: "GET", Path: path, Token: ada, Headers: []string{"Range", "bytes=0-7"}, Status: 206, Check: func(t *testing.T, r *apitest.Response) error {
			if string(r.Body) != "\x89PNG\r\n\x1a\n" {
				return apitest.Errorf("range body %q", r.Body)
			}
			return nil
		}},
		{Name: "revalidation", Method: "GET", Path: path, Token: ada, Headers: []string{"If-None-Match", `"` + m.ID + `"`}, Status: 304},
		{Name: "signed url without a token", Method: "GET", Path: m.URL, Status: 200},
		{Name: "no token, no signature", Method: "GET", Path: path, Status: 401},
		{Name: "another teacher cannot read", Method: "GET", Path: path, Token: bob, Status: 404, Code: "not_found"},
		{Name: "another teacher cannot delete", Method: "DELETE", Path: path, Token: bob, Status: 404},
		{Name: "tampered signature", Method: "GET", Path: strings.Replace(m.URL, "sig=", "sig=A", 1), Status: 404},
		{Name: "signature of another picture", Method: "GET", Path: "/api/v1/media/" + strings.Repeat("a", 64) + m.URL[len(path):], Status: 404},
		{Name: "expired signature", Method: "GET", Path: resign(t, m.URL, time.Now().Add(-time.Minute)), Status: 404},
		{Name: "signature valid too long", Method: "GET", Path: resign(t, m.URL, time.Now().Add(2*time.Hour)), Status: 404},
		{Name: "not a media id", Method: "GET", Path: "/api/v1/media/..%2f..%2fetc", Token: ada, Status: 404},
		{Name: "list", Method: "GET", Path: "/api/v1/media", Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var l struct {
				Items []mediaDoc `json:"items"`
				Used  int64      `json:"used"`
				Quota int64      `json:"quota"`
			}
			r.JSON(t, &l)
			if len(l.Items) != 1 || l.Items[0].ID != m.ID || l.Used != m.Size || l.Quota != 300<<10 || l.Items[0].URL == "" {
				return apitest.Errorf("list %s", r.Body)
			}
			return nil
		}},
		{Name: "another teacher's list is empty", Method: "GET", Path: "/api/v1/media", Token: bob, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if !strings.Contains(string(r.Body), `"items":[]`) || !strings.Contains(string(r.Body), `"used":0`) {
				return apitest.Errorf("list %s", r.Body)
			}
			return nil
		}},
	})

	// A lesson points at the picture; after the picture is erased the
	// lesson still loads, and its picture URL answers 404 (the placeholder).
	lesson := createLesson(t, c, ada, map[string]any{"title": "Pictures", "slides": []map[string]any{{"kind": "image", "media_id": m.ID, "caption": "Leaf"}}})
	src := lesson.Slides[0]["src"].(string)
	if res := c.Do(t, "GET", src, nil); res.Status != 200 {
		t.Fatalf("image slide src: %d", res.Status)
	}
	bobPic := bobsID(t, c, bob)
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "delete", Method: "DELETE", Path: path, Token: ada, Status: 204},
		{Name: "deleted for the owner", Method: "GET", Path: path, Token: ada, Status: 404},
		{Name: "bytes gone for the signed url", Method: "GET", Path: m.URL, Status: 404},
		{Name: "lesson still loads, without a picture url", Method: "GET", Path: "/api/v1/lessons/" + lesson.ID, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var l lessonDoc
			r.JSON(t, &l)
			if l.Slides[0]["media_id"] != m.ID || l.Slides[0]["src"] != nil {
				return apitest.Errorf("slide %v", l.Slides[0])
			}
			return nil
		}},
		{Name: "preview of one's own picture has a signed url", Method: "POST", Path: "/api/v1/lessons/preview", Token: bob, Body: map[string]any{"kind": "image", "media_id": bobPic}, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if !strings.Contains(string(r.Body), `"src":"/api/v1/media/`+bobPic+`?exp=`) {
				return apitest.Errorf("own picture: %s", r.Body)
			}
			return nil
		}},
		{Name: "another teacher's picture gets no signed url", Method: "POST", Path: "/api/v1/lessons/preview", Token: ada, Body: map[string]any{"kind": "image", "media_id": bobPic}, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if strings.Contains(string(r.Body), `"src"`) {
				return apitest.Errorf("signed another teacher's picture: %s", r.Body)
			}
			return nil
		}},
		{Name: "preview of an invalid slide", Method: "POST", Path: "/api/v1/lessons/preview", Token: ada, Body: map[string]any{"kind": "link", "title": "x", "url": "ftp://x"}, Status: 400, Fields: []string{"slides[0].url"}},
		{Name: "delete again", Method: "DELETE", Path: path, Token: ada, Status: 404},
	})

	// Quota: 300 KiB; noise pictures do not compress.
	big1, big2 := pngOf(t, 220, 220, 3), pngOf(t, 220, 220, 4) // about 190 KiB each
	if res := upload(t, c, ada, big1, "image/png"); res.Status != 201 {
		t.Fatalf("first big picture: %d %s", res.Status, res.Body)
	}
	if res := upload(t, c, ada, big2, "image/png"); res.Status != 413 || res.ErrorCode() != "quota_exceeded" {
		t.Fatalf("over quota: %d %s", res.Status, res.Body)
	}
	if res := upload(t, c, bob, big2, "image/png"); res.Status != 201 {
		t.Fatalf("bob's quota is his own: %d %s", res.Status, res.Body)
	}
}

func TestMediaStripsMetadata(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	photo := jpegWithGPS(t)
	res := upload(t, c, ada, photo, "image/jpeg")
	if res.Status != 201 {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	var m mediaDoc
	res.JSON(t, &m)
	got := c.With(ada).Do(t, "GET", "/api/v1/media/"+m.ID, nil)
	if got.Status != 200 || got.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("read: %d %v", got.Status, got.Header)
	}
	if bytes.Contains(got.Body, []byte("GPS")) || !bytes.Contains(photo, []byte("GPS")) {
		t.Fatal("the stored picture still carries its GPS position")
	}
	if _, err := jpeg.Decode(bytes.NewReader(got.Body)); err != nil {
		t.Fatalf("stored picture does not decode: %v", err)
	}
}

func TestMediaUploadIdempotencyKey(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	photo := pngOf(t, 8, 8, 9)
	first := c.With(ada).Do(t, "POST", "/api/v1/media", photo, "Content-Type", "image/png", "Idempotency-Key", "up-1")
	again := c.With(ada).Do(t, "POST", "/api/v1/media", photo, "Content-Type", "image/png", "Idempotency-Key", "up-1")
	if first.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" || string(first.Body) != string(again.Body) {
		t.Fatalf("first %d %s; again %d %s", first.Status, first.Body, again.Status, again.Body)
	}
	other := c.With(ada).Do(t, "POST", "/api/v1/media", pngOf(t, 8, 8, 10), "Content-Type", "image/png", "Idempotency-Key", "up-1")
	if other.Status != 422 {
		t.Fatalf("reused key: %d %s", other.Status, other.Body)
	}
}

// bobsID uploads a picture for bob and returns its id.
func bobsID(t *testing.T, c *apitest.Client, bob string) string {
	res := upload(t, c, bob, pngOf(t, 12, 12, 42), "image/png")
	if res.Status != 201 {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	return res.Map(t)["id"].(string)
}

// resign changes a signed URL's expiry without re-signing it: the
// signature covers exp, so the URL must stop working.
func resign(t *testing.T, signed string, exp time.Time) string {
	t.Helper()
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	u.RawQuery = q.Encode()
	return u.String()
}

// BenchmarkUpload5MiB uploads a 5 MiB PNG of noise (it does not compress)
// through HTTP: read, check, decode, re-encode, hash and store. The
// picture is deleted after each upload, outside the timer, so nothing is
// deduplicated.
func BenchmarkUpload5MiB(b *testing.B) {
	n := testcluster.StartNode(b, withMediaLimits(0, 1<<40))
	c := apitest.New(n.URL())
	res := c.Do(b, "POST", "/api/v1/accounts", map[string]string{"email": "bench@school.example", "password": "correct horse battery", "name": "Bench"})
	if res.Status != 201 {
		b.Fatal(res.Status)
	}
	token := c.Do(b, "POST", "/api/v1/sessions", map[string]string{"email": "bench@school.example", "password": "correct horse battery"}).Map(b)["token"].(string)
	picture := pngOf(b, 1160, 1160, 7)
	if len(picture) < 5<<20 || len(picture) > 6<<20 {
		b.Fatalf("picture is %d bytes, want about 5 MiB", len(picture))
	}
	b.SetBytes(int64(len(picture)))
	for b.Loop() {
		res := upload(b, c, token, picture, "image/png")
		if res.Status != 201 {
			b.Fatalf("upload: %d %s", res.Status, res.Body)
		}
		b.StopTimer()
		if del := c.With(token).Do(b, "DELETE", "/api/v1/media/"+res.Map(b)["id"].(string), nil); del.Status != 204 {
			b.Fatalf("delete: %d", del.Status)
		}
		b.StartTimer()
	}
}

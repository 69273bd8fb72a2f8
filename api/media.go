package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/imaging"
)

// Media URLs are signed for a window: every URL made in the same half hour
// is the same, so browsers cache the picture, and each is valid between
// half an hour and an hour (classboard.MaxSignedURLLifetime).
const signedURLWindow = 30 * time.Minute

// mediaCacheControl lets a browser keep a picture: its id is the hash of
// its bytes, so they never change. Private: no shared proxy keeps pupils'
// pictures.
const mediaCacheControl = "private, max-age=2592000, immutable"

// mediaKey returns the media signing key, loading it from the store on
// first use. No lock is held across the store call: requests that arrive
// together before it is loaded each ask, and all get the same key (it is
// the same on every node), so whichever is kept does not matter.
func (s *Server) mediaKey(ctx context.Context) ([]byte, error) {
	if key := s.signingKey.Load(); key != nil {
		return *key, nil
	}
	key, err := s.svc.Media.MediaSigningKey(ctx)
	if err != nil {
		return nil, err
	}
	s.signingKey.Store(&key)
	return key, nil
}

func mediaSignature(key []byte, mediaID string, exp int64) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("media\x00" + mediaID + "\x00" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// signedMediaURL returns the path and signed query of a picture, relative
// to the API origin, for <img> elements, which cannot send a token. When
// the key cannot be loaded (the store is down) it returns the unsigned
// path, which works with an Authorization header only.
func (s *Server) signedMediaURL(ctx context.Context, mediaID string) string {
	path := "/api/v1/media/" + mediaID
	key, err := s.mediaKey(ctx)
	if err != nil {
		s.log.Warn("load media signing key", "request_id", requestID(ctx), "err", err)
		return path
	}
	exp := time.Now().Truncate(signedURLWindow).Add(classboard.MaxSignedURLLifetime).Unix()
	return path + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + mediaSignature(key, mediaID, exp)
}

// checkSignedURL returns nil when exp and sig sign mediaID and have not
// expired. Any failure is ENOTFOUND, like a picture one may not see.
func (s *Server) checkSignedURL(ctx context.Context, mediaID, expText, sig string) error {
	exp, err := strconv.ParseInt(expText, 10, 64)
	now := time.Now().Unix()
	if err != nil || exp <= now || exp > now+int64(classboard.MaxSignedURLLifetime/time.Second) {
		return classboard.ErrNoMedia
	}
	key, err := s.mediaKey(ctx)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(sig), []byte(mediaSignature(key, mediaID, exp))) {
		return classboard.ErrNoMedia
	}
	return nil
}

// readUpload reads a raw upload of at most limit bytes: 413 too_large at
// once from Content-Length, or while reading when there is none. what
// names the upload in the message ("picture", "file").
func readUpload(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, error) {
	tooLarge := classboard.Errorf(classboard.ETOOLARGE, "The %s is larger than %d MiB.", what, limit>>20)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, classboard.Errorf(classboard.ETIMEOUT, "The upload took too long to arrive.")
	case err != nil:
		return nil, classboard.Errorf(classboard.EBADJSON, "The upload could not be read.")
	}
	return data, nil
}

// createMedia takes a picture as the raw body. The size limit is enforced
// while reading; the bytes decide the format, never the Content-Type.
func (s *Server) createMedia(w http.ResponseWriter, r *http.Request) {
	data, err := readUpload(w, r, s.cfg.MaxMediaBytes, "picture")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	img, err := s.images.Process(r.Context(), data)
	switch {
	case errors.Is(err, imaging.ErrTooManyPixels):
		s.writeError(w, r, classboard.Errorf(classboard.ETOOLARGE, "The picture has more than %d million pixels.", classboard.MaxImagePixels/1_000_000))
		return
	case errors.Is(err, imaging.ErrUnsupported):
		s.writeError(w, r, classboard.Errorf(classboard.EUNSUPPORTED, "Upload a PNG, JPEG, GIF or WebP picture."))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.Media.CreateMedia(r.Context(), classboard.NewMedia{Data: img.Data, ContentType: img.ContentType, Width: img.Width, Height: img.Height})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m.URL = s.signedMediaURL(r.Context(), m.ID)
	w.Header().Set("Location", "/api/v1/media/"+m.ID)
	writeJSON(w, http.StatusCreated, m)
}

func (s *Server) listMedia(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.svc.Media.MediaList(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, m := range list.Items {
		m.URL = s.signedMediaURL(r.Context(), m.ID)
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) deleteMedia(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Media.DeleteMedia(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getMedia serves a picture's bytes to a caller who may read it (a bearer
// token) or to anyone with a valid signed URL. Range and If-None-Match
// are answered by http.ServeContent.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	if q := r.URL.Query(); q.Has("sig") || q.Has("exp") {
		if err := s.checkSignedURL(ctx, id, q.Get("exp"), q.Get("sig")); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else {
		a, err := s.authenticate(r, teachersOrBoards)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx = classboard.NewContextWithAuth(ctx, a)
		if err := s.svc.Media.MayReadMedia(ctx, id); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	c, err := s.svc.Media.MediaContent(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", c.ContentType)
	h.Set("ETag", `"`+c.ID+`"`)
	h.Set("Cache-Control", mediaCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", c.ModTime, bytes.NewReader(c.Data))
}

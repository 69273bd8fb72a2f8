package testcluster

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"testing"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/apitest"
)

// Dataset is every kind of data a node keeps, made through the API:
// teachers with sessions, lessons, pictures, paired boards with states,
// and queued password-reset mail. Check reads it all back, from another
// node or cluster (after a restore or an upgrade).
type Dataset struct {
	Teachers []DataTeacher
}

// DataTeacher is one teacher's part of a Dataset.
type DataTeacher struct {
	Email, Password, Token string
	Lessons                []string
	Media                  map[string][]byte // id -> the stored bytes
	Boards                 []BoardCreds
	States                 map[string]uint64 // board id -> revision set
}

const datasetPassword = "correct horse battery staple"

// FillDataset makes teachers teachers on the node at base, each with two
// lessons, pictures pictures and boards paired boards steered once.
func FillDataset(t testing.TB, base string, teachers, pictures, boards int) *Dataset {
	t.Helper()
	c := apitest.New(base)
	call := func(c *apitest.Client, method, path string, body any, want int, out any, headers ...string) {
		t.Helper()
		res := c.Do(t, method, path, body, headers...)
		if res.Status != want {
			t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
		}
		if out != nil {
			res.JSON(t, out)
		}
	}
	d := &Dataset{}
	for i := range teachers {
		dt := DataTeacher{Email: fmt.Sprintf("teacher%d@school.example", i), Password: datasetPassword, Media: map[string][]byte{}, States: map[string]uint64{}}
		call(c, "POST", "/api/v1/accounts", map[string]string{"email": dt.Email, "password": dt.Password, "name": fmt.Sprintf("Teacher %d", i)}, http.StatusCreated, nil)
		var s struct {
			Token string `json:"token"`
		}
		call(c, "POST", "/api/v1/sessions", map[string]string{"email": dt.Email, "password": dt.Password, "device": "laptop"}, http.StatusCreated, &s)
		dt.Token = s.Token
		tc := c.With(s.Token)
		for p := range pictures {
			var m classboard.Media
			call(tc, "POST", "/api/v1/media", pictureOf(i*1000+p), http.StatusCreated, &m, "Content-Type", "image/png")
			dt.Media[m.ID] = MediaBytes(t, base, tc, m.ID)
		}
		for l := range 2 {
			slides := []map[string]any{{"kind": "text", "title": fmt.Sprintf("Lesson %d", l), "body": "Some *text*"}}
			for id := range dt.Media {
				slides = append(slides, map[string]any{"kind": "image", "media_id": id, "caption": "A picture"})
			}
			var les struct {
				ID string `json:"id"`
			}
			call(tc, "POST", "/api/v1/lessons", map[string]any{"title": fmt.Sprintf("Lesson %d of %d", l, i), "slides": slides}, http.StatusCreated, &les)
			dt.Lessons = append(dt.Lessons, les.ID)
		}
		for b := range boards {
			var nb classboard.NewBoard
			call(c, "POST", "/api/v1/boards", nil, http.StatusCreated, &nb)
			call(tc, "POST", "/api/v1/pairings", map[string]string{"code": nb.Code, "name": fmt.Sprintf("Room %d", b)}, http.StatusCreated, nil)
			var st classboard.BoardState
			call(tc, "GET", "/api/v1/boards/"+nb.BoardID+"/state", nil, http.StatusOK, &st)
			call(tc, "PUT", "/api/v1/boards/"+nb.BoardID+"/state", classboard.StateUpdate{LessonID: dt.Lessons[0], Slide: 1}, http.StatusOK, &st, "If-Match", fmt.Sprint(st.Revision))
			dt.Boards = append(dt.Boards, BoardCreds{ID: nb.BoardID, Secret: nb.BoardSecret})
			dt.States[nb.BoardID] = st.Revision
		}
		// Queued mail: a reset link (delivered or still in the outbox). The
		// limit per client address allows 30 an hour.
		if i < 10 {
			call(c, "POST", "/api/v1/password-resets", map[string]string{"email": dt.Email}, http.StatusAccepted, nil)
		}
		d.Teachers = append(d.Teachers, dt)
	}
	return d
}

// MediaBytes fetches a picture's stored bytes through its signed URL.
func MediaBytes(t testing.TB, base string, tc *apitest.Client, id string) []byte {
	t.Helper()
	var list struct {
		Items []classboard.Media `json:"items"`
	}
	res := tc.Do(t, "GET", "/api/v1/media", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("list media: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &list)
	for _, m := range list.Items {
		if m.ID == id {
			got := apitest.New(base).Do(t, "GET", m.URL, nil)
			if got.Status != http.StatusOK {
				t.Fatalf("get media %s: %d", id, got.Status)
			}
			return got.Body
		}
	}
	t.Fatalf("media %s not listed", id)
	return nil
}

// Check reads every part of the dataset back from the node at base:
// teachers sign in with their passwords and their old sessions still work,
// lessons are there, pictures have the same bytes, boards authenticate
// with their old secrets and show at least the state they were given.
func (d *Dataset) Check(t testing.TB, base string) {
	t.Helper()
	c := apitest.New(base)
	for _, dt := range d.Teachers {
		if res := c.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": dt.Email, "password": dt.Password, "device": "laptop"}); res.Status != http.StatusCreated {
			t.Errorf("%s cannot sign in with the old password: %d %s", dt.Email, res.Status, res.Body)
		}
		tc := c.With(dt.Token)
		if res := tc.Do(t, "GET", "/api/v1/me", nil); res.Status != http.StatusOK {
			t.Errorf("%s's old session: %d %s", dt.Email, res.Status, res.Body)
		}
		for _, id := range dt.Lessons {
			if res := tc.Do(t, "GET", "/api/v1/lessons/"+id, nil); res.Status != http.StatusOK {
				t.Errorf("lesson %s: %d %s", id, res.Status, res.Body)
			}
		}
		for id, want := range dt.Media {
			if got := MediaBytes(t, base, tc, id); !bytes.Equal(got, want) {
				t.Errorf("picture %s: %d bytes, want the %d bytes stored before", id, len(got), len(want))
			}
		}
		for _, b := range dt.Boards {
			var st classboard.BoardState
			res := c.With(b.Secret).Do(t, "GET", "/api/v1/boards/"+b.ID+"/state", nil)
			if res.Status != http.StatusOK {
				t.Errorf("board %s with its old secret: %d %s", b.ID, res.Status, res.Body)
				continue
			}
			res.JSON(t, &st)
			if st.Revision < dt.States[b.ID] || st.LessonID != dt.Lessons[0] {
				t.Errorf("board %s: state %+v, want revision >= %d of lesson %s", b.ID, st, dt.States[b.ID], dt.Lessons[0])
			}
		}
	}
}

// pictureOf is a small PNG that differs for every seed.
func pictureOf(seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for x := range 24 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{uint8(seed), uint8(seed >> 8), uint8(x * y), 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img) //nolint:errcheck // writing to memory
	return b.Bytes()
}

package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"time"

	"github.com/classboard/classboard"
)

// activityRoutes adds the activity endpoints: the teacher's (owner) and
// the board's under the board, the pupils' under /rooms. Pupils have no
// account: their token (a bearer token) is worth something only in the
// room it was issued for, so the store checks it, not allow.
func (s *Server) activityRoutes(mux *http.ServeMux) {
	if s.svc.Activities == nil {
		return
	}
	mux.HandleFunc("GET /api/v1/boards/{id}/activity", s.allow(teachersOrBoards, s.getActivity))
	mux.HandleFunc("PUT /api/v1/boards/{id}/activity", s.allow(teachers, s.putActivity))
	mux.HandleFunc("DELETE /api/v1/boards/{id}/activity", s.allow(teachers, s.deleteActivity))
	mux.HandleFunc("PUT /api/v1/boards/{id}/activity/answers/{pupil}", s.allow(teachers, s.moderateAnswer))
	mux.HandleFunc("DELETE /api/v1/boards/{id}/activity/pupils/{pupil}", s.allow(teachers, s.removePupil))
	mux.HandleFunc("POST /api/v1/rooms/join", s.pupils(s.joinRoom))
	mux.HandleFunc("GET /api/v1/rooms/{room}", s.pupils(s.getRoom))
	mux.HandleFunc("PUT /api/v1/rooms/{room}/answer", s.pupils(s.putAnswer))
	mux.HandleFunc("POST /api/v1/rooms/{room}/live-tickets", s.pupils(s.createPupilTicket))
	mux.HandleFunc("GET /api/v1/rooms/{room}/live", s.ready(s.pupilLive))
}

// A pupil's app asks for a live ticket each time it connects: a few a
// minute on a bad network. A node takes one a second per pupil token
// (five at once); each ticket is a key in the store, and a pupil needs no
// account, so nothing else would bound them but the node's admission,
// which one pupil could then take from the whole school.
const (
	pupilTicketRate  = 1
	pupilTicketBurst = 5
)

// createPupilTicket gives a pupil's browser a single-use ticket for one
// live connection to the room, as createLiveTicket does for the apps.
func (s *Server) createPupilTicket(w http.ResponseWriter, r *http.Request) {
	// Admitted first: the node's admission rate then bounds how many
	// tokens, right or wrong, the limit below remembers.
	done, err := s.svc.Live.Admit()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer done()
	room, tok := r.PathValue("room"), bearer(r)
	// Keyed by the token's hash: the limit keeps no pupil's secret. A
	// request without a token is refused (401) below, not counted.
	if tok != "" {
		sum := sha256.Sum256([]byte(room + "/" + tok))
		if err := s.pupilTix.allow(string(sum[:]), time.Now(), "Too many live tickets; wait a moment.", "pupil-live-tickets"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	t, err := s.svc.Activities.PupilTicket(r.Context(), room, tok)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

// pupilLive serves GET /api/v1/rooms/{room}/live: a websocket, or SSE,
// like a board's live endpoint, on which a pupil hears their room's status
// (open, locked, revealed, ended) as it changes, and "removed" when the
// teacher removed them; never another pupil's answer. A pupil's phone
// then asks nothing until something changes.
func (s *Server) pupilLive(w http.ResponseWriter, r *http.Request) {
	if !s.liveOrigin(w, r) {
		return
	}
	room := r.PathValue("room")
	var seat *classboard.PupilSeat
	var setUp func()
	var err error
	if t := r.URL.Query().Get("ticket"); t != "" {
		// Admitted when its ticket was issued.
		setUp = s.svc.Live.SetUp()
		seat, err = s.svc.Activities.PupilSeat(r.Context(), room, t, true)
	} else if setUp, err = s.svc.Live.Admit(); err == nil {
		seat, err = s.svc.Activities.PupilSeat(r.Context(), room, bearer(r), false)
	}
	if setUp != nil {
		defer setUp()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// A pupil's connections count apart from the board's: a room seats
	// more pupils than a board may have connections.
	who := "pupil " + room + "/" + seat.Seat
	release, err := s.liveCounts.acquire(who, who)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, err := s.svc.Live.RegisterPupil(*seat)
	if err != nil {
		release()
		s.writeError(w, r, err)
		return
	}
	end := func() { conn.Close(); release() }
	if s.svc.ActivityFeed != nil {
		s.svc.ActivityFeed.Offer(conn)
	}
	setUp()
	s.serveLive(w, r, conn, end)
}

func (s *Server) getActivity(w http.ResponseWriter, r *http.Request) {
	act, err := s.svc.Activities.Activity(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeActivity(w, r, act)
}

// writeActivity answers with the activity and, while it has a join code,
// the link and QR code the board shows pupils.
func (s *Server) writeActivity(w http.ResponseWriter, r *http.Request, act *classboard.Activity) {
	if act.JoinCode != "" {
		act.JoinURL = s.appBase(r) + "/join#code=" + act.JoinCode
		act.JoinQR = s.qr(act.JoinURL, 320)
	}
	w.Header().Set("ETag", etag(act.Revision))
	writeJSON(w, http.StatusOK, act)
}

// putActivity starts, locks, reveals or ends the board's activity, with
// If-Match like board state (0 while there is none).
func (s *Server) putActivity(w http.ResponseWriter, r *http.Request) {
	rev, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in classboard.ActivityUpdate
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	act, err := s.svc.Activities.SetActivity(r.Context(), r.PathValue("id"), rev, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeActivity(w, r, act)
}

func (s *Server) deleteActivity(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Activities.DeleteActivity(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// moderateAnswer approves a short answer ({"approved": true}) or takes the
// approval back.
func (s *Server) moderateAnswer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Approved *bool `json:"approved"`
	}
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Approved == nil {
		s.writeError(w, r, &classboard.Error{Code: classboard.EINVALID, Message: "Some fields are not valid.",
			Fields: map[string]string{"approved": "is required"}})
		return
	}
	if err := s.svc.Activities.Moderate(r.Context(), r.PathValue("id"), r.PathValue("pupil"), *in.Approved); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) removePupil(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Activities.RemovePupil(r.Context(), r.PathValue("id"), r.PathValue("pupil")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) joinRoom(w http.ResponseWriter, r *http.Request) {
	var in classboard.JoinRequest
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	j, err := s.svc.Activities.Join(r.Context(), in, s.clientAddr(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/rooms/"+j.RoomID)
	writeJSON(w, http.StatusCreated, j)
}

// getRoom is what the pupil's phone shows: the question, its status, the
// pupil's own answer and, for markers, the slide's picture.
func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) {
	room, err := s.svc.Activities.Room(r.Context(), r.PathValue("room"), bearer(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if room.Kind == classboard.KindMarkers && room.Status != classboard.StatusEnded {
		room.Picture = s.slidePicture(r.Context(), room)
	}
	writeJSON(w, http.StatusOK, room)
}

// slidePicture returns a signed URL of the picture on the activity's
// slide, or "" when the board shows none. It reads as the board's owner,
// whose lesson it is.
func (s *Server) slidePicture(ctx context.Context, room *classboard.Room) string {
	owner := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: &classboard.Teacher{ID: room.TeacherID}})
	st, err := s.svc.Boards.State(owner, room.BoardID)
	if err != nil || st.LessonID == "" {
		return ""
	}
	l, err := s.svc.Lessons.Lesson(owner, st.LessonID)
	if err != nil || room.Slide >= len(l.Slides) || l.Slides[room.Slide].MediaID == "" {
		return ""
	}
	id := l.Slides[room.Slide].MediaID
	if err := s.svc.Media.MayReadMedia(owner, id); err != nil {
		return ""
	}
	return s.signedMediaURL(owner, id)
}

func (s *Server) putAnswer(w http.ResponseWriter, r *http.Request) {
	var in classboard.Answer
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Activities.SetAnswer(r.Context(), r.PathValue("room"), bearer(r), in); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"stored": true})
}

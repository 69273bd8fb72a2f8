package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

var (
	backupScale     = flag.Bool("classboard.backup-scale", false, "measure backup and restore of a large store (minutes; docs/operations.md)")
	scaleTeachers   = flag.Int("scale.teachers", 1000, "teachers in the measured store (with -classboard.backup-scale)")
	scaleBoards     = flag.Int("scale.boards", 10000, "paired boards in the measured store (with -classboard.backup-scale)")
	scalePictureMiB = flag.Int("scale.picture-mib", 1024, "MiB of pictures in the measured store, one picture per teacher (with -classboard.backup-scale)")
)

// TestBackupScale fills a single node with teachers, lessons, pictures and
// paired boards through the store's services, then times `classboard
// backup` of the running node and `classboard restore` into an empty data
// directory and into a running node, and prints the figures. Without the
// flag it runs a small store (a check); with it, the measurement that
// docs/operations.md quotes:
//
//	go test ./cmd/classboard -run TestBackupScale -classboard.backup-scale -timeout 60m -v
func TestBackupScale(t *testing.T) {
	teachers, boards, pictureMiB := 20, 100, 5
	if *backupScale {
		teachers, boards, pictureMiB = *scaleTeachers, *scaleBoards, *scalePictureMiB
	}
	big := func(c *node.Config) {
		c.Store.Pairing.CreatesPerHour = 1 << 30
		c.Store.MaxStore = 64 << 30
	}
	dir := t.TempDir()
	n := testcluster.StartNodeAt(t, dir, big)
	picture := (pictureMiB << 20) / teachers
	start := time.Now()
	var made, failed atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := fillTeacher(t, n, i, boards/teachers, picture); err != nil {
					failed.Add(1)
					t.Errorf("teacher %d: %v", i, err)
					continue
				}
				if made.Add(1)%100 == 0 {
					t.Logf("%d teachers made in %v", made.Load(), time.Since(start).Round(time.Second))
				}
			}
		})
	}
	for i := range teachers {
		if failed.Load() > 0 {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("filled %d teachers, %d boards, %d MiB of pictures in %v", teachers, boards/teachers*teachers, picture*teachers>>20, time.Since(start).Round(time.Second))

	file := filepath.Join(t.TempDir(), "scale.backup")
	began := time.Now()
	if _, err := classboardCmd(t, "backup", "--data", dir, "--to", file); err != nil {
		t.Fatal(err)
	}
	backupTime := time.Since(began)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	began = time.Now()
	if _, err := classboardCmd(t, "restore", "--from", file, "--data", target); err != nil {
		t.Fatal(err)
	}
	offline := time.Since(began)
	// Into a running new node: it writes with an fsync per message.
	runningDir := t.TempDir()
	running := testcluster.StartNodeAt(t, runningDir, big)
	began = time.Now()
	if _, err := classboardCmd(t, "restore", "--from", file, "--data", runningDir); err != nil {
		t.Fatal(err)
	}
	online := time.Since(began)
	for _, n := range []*node.Node{running, testcluster.StartNodeAt(t, target, big)} {
		if _, err := n.Store().Accounts().Login(t.Context(), classboard.Login{Email: scaleEmail(teachers - 1), Password: datasetPassword}, "10.0.0.1"); err != nil {
			t.Errorf("the last teacher cannot sign in on the restored node: %v", err)
		}
	}
	fmt.Printf("backup of %d teachers, %d boards, %d MiB of pictures (one node): backup %v, file %d MiB; restore into a stopped node's directory %v, into a running node %v\n",
		teachers, boards/teachers*teachers, picture*teachers>>20, backupTime.Round(100*time.Millisecond), fi.Size()>>20,
		offline.Round(100*time.Millisecond), online.Round(100*time.Millisecond))
}

const datasetPassword = "correct horse battery staple"

func scaleEmail(i int) string { return fmt.Sprintf("teacher%d@school.example", i) }

// fillTeacher makes teacher i with a picture of pictureBytes random bytes
// (incompressible, like photos), a lesson showing it and boards paired
// boards steered to it.
func fillTeacher(t *testing.T, n *node.Node, i, boards, pictureBytes int) error {
	ctx := t.Context()
	s := n.Store()
	teacher, err := s.Accounts().CreateTeacher(ctx, classboard.SignUp{Email: scaleEmail(i), Password: datasetPassword, Name: fmt.Sprintf("Teacher %d", i)})
	if err != nil {
		return err
	}
	as := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: teacher})
	data := make([]byte, pictureBytes)
	rand.Read(data)
	pic, err := s.Media().CreateMedia(as, classboard.NewMedia{Data: data, ContentType: "image/jpeg", Width: 1024, Height: 768})
	if err != nil {
		return err
	}
	les, err := s.Lessons().CreateLesson(as, classboard.LessonInput{Title: "Lesson", Slides: []classboard.Slide{
		{Kind: classboard.SlideText, Title: "Hello", Body: "Some *text*"},
		{Kind: classboard.SlideImage, MediaID: pic.ID, Caption: "A photo"},
	}})
	if err != nil {
		return err
	}
	b := s.Boards()
	for range boards {
		nb, err := b.CreateBoard(ctx, "10.0.0.1")
		if err != nil {
			return err
		}
		if _, err := b.Claim(as, classboard.Claim{Code: nb.Code, Name: "Room"}, "10.0.0.1"); err != nil {
			return err
		}
		st, err := b.State(as, nb.BoardID)
		if err != nil {
			return err
		}
		if _, err := b.SetState(as, nb.BoardID, st.Revision, classboard.StateUpdate{LessonID: les.ID, Slide: 1}); err != nil {
			return err
		}
	}
	return nil
}

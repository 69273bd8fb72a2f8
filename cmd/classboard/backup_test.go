package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
	"github.com/classboard/classboard/store"
)

// classboardCmd runs the command line in this process.
func classboardCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, func(string) string { return "" }, &out, &errOut)
	t.Logf("classboard %s\n%s%s(err: %v)", strings.Join(args, " "), out.String(), errOut.String(), err)
	return out.String() + errOut.String(), err
}

// TestBackupRoundTrip backs up a three-node cluster while a teacher steers,
// and restores it into a fresh three-node cluster and into a single node.
func TestBackupRoundTrip(t *testing.T) {
	src := testcluster.StartCluster(t, 3)
	data := testcluster.FillDataset(t, src.Nodes[0].URL(), 6, 2, 2)

	// A writer steers a board through the backup; every state acknowledged
	// before the backup starts must be in it.
	cr := testcluster.NewClassroom(t, src.Origins(), 1, 5)
	board := cr.Boards[0].ID
	var (
		mu     sync.Mutex
		acked  uint64
		writes int
	)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			st, err := cr.Steer(ctx, board, i%5)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("writer: %v", err)
				}
				return
			}
			mu.Lock()
			acked, writes = st.Revision, writes+1
			mu.Unlock()
		}
	})
	poll.CheckFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if writes < 3 {
			return errors.New("the writer has not written yet")
		}
		return nil
	})

	dir := t.TempDir()
	key := filepath.Join(dir, "backup.key")
	if _, err := classboardCmd(t, "keygen", "--to", key); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "school.backup")
	mu.Lock()
	before := acked
	mu.Unlock()
	// A running node is found by its URL on its own machine.
	if _, err := classboardCmd(t, "backup", "--from", src.Nodes[1].DirectURL(), "--to", file, "--key-file", key); err != nil {
		t.Fatal(err)
	}
	stop()
	wg.Wait()
	// A stopped cluster node's data cannot be read alone.
	src.Nodes[2].Stop()
	if _, err := classboardCmd(t, "backup", "--data", src.Nodes[2].DataDir(), "--to", filepath.Join(dir, "n3.backup")); err == nil || !strings.Contains(err.Error(), "cluster") {
		t.Errorf("a stopped cluster node's data directory: %v; want a refusal naming the cluster", err)
	}
	mu.Lock()
	t.Logf("the writer had %d states acknowledged, revision %d at the backup's start, %d at its end", writes, before, acked)
	mu.Unlock()
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if raw, _ := os.ReadFile(file); bytes.Contains(raw, []byte(data.Teachers[0].Email)) {
		t.Fatal("the encrypted backup shows a teacher's e-mail address")
	}
	if _, err := classboardCmd(t, "restore", "--from", file, "--verify"); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("an encrypted backup without its key: %v", err)
	}

	checkBoard := func(base string) {
		t.Helper()
		c := testcluster.NewClient([]string{base}, 10*time.Second).With(cr.Boards[0].Secret)
		res, err := c.Do(t.Context(), "GET", "/api/v1/boards/"+board+"/state", nil)
		if err != nil || res.Status != 200 {
			t.Fatalf("the steered board: %v %v", err, res)
		}
		var st struct{ Revision uint64 }
		res.JSON(t, &st)
		if st.Revision < before {
			t.Errorf("the steered board is at revision %d; %d was acknowledged before the backup started", st.Revision, before)
		}
	}

	t.Run("into a fresh cluster", func(t *testing.T) {
		dst := testcluster.StartCluster(t, 3)
		if _, err := classboardCmd(t, "restore", "--from", file, "--key-file", key, "--data", dst.Nodes[2].DataDir()); err != nil {
			t.Fatal(err)
		}
		for _, m := range dst.Nodes {
			data.Check(t, m.URL())
		}
		checkBoard(dst.Nodes[0].URL())
		checkLive(t, dst.Origins(), cr.Token, cr.Boards[0])
		out, err := classboardCmd(t, "restore", "--from", file, "--key-file", key, "--data", dst.Nodes[0].DataDir())
		if err == nil || !strings.Contains(out+err.Error(), "--replace") {
			t.Errorf("a restore into a cluster that holds data must be refused without --replace: %v", err)
		}
		if _, err := classboardCmd(t, "restore", "--from", file, "--key-file", key, "--data", dst.Nodes[0].DataDir(), "--replace"); err != nil {
			t.Fatalf("restore --replace: %v", err)
		}
		data.Check(t, dst.Nodes[1].URL())
	})

	t.Run("into a single node", func(t *testing.T) {
		// The node does not run yet: restore fills its data directory.
		nodeDir := t.TempDir()
		if _, err := classboardCmd(t, "restore", "--from", file, "--key-file", key, "--data", nodeDir); err != nil {
			t.Fatal(err)
		}
		n := testcluster.StartNodeAt(t, nodeDir)
		data.Check(t, n.URL())
		checkBoard(n.URL())
	})
}

// checkLive opens a restored board's live connection and steers it: the
// nodes' watches follow the restored streams.
func checkLive(t *testing.T, origins []string, teacherToken string, b testcluster.BoardCreds) {
	t.Helper()
	live := testcluster.OpenLive(t, origins, b.ID, b.Secret, 0)
	defer live.Close()
	teacher := apitest.New(origins[1]).With(teacherToken)
	var st classboard.BoardState
	teacher.Do(t, "GET", "/api/v1/boards/"+b.ID+"/state", nil).JSON(t, &st)
	res := teacher.Do(t, "PUT", "/api/v1/boards/"+b.ID+"/state", classboard.StateUpdate{LessonID: st.LessonID, Blank: true}, "If-Match", strconv.FormatUint(st.Revision, 10))
	if res.Status != http.StatusOK {
		t.Fatalf("steer the restored board: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &st)
	poll.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if got := live.Latest(); got == nil || got.Revision < st.Revision {
			return fmt.Errorf("the board shows %+v, want revision %d", got, st.Revision)
		}
		return nil
	})
}

// TestRestoreRefusesDamagedFiles restores damaged copies of a good backup
// into a running node: each is refused with its reason, and the node's
// data stays as it was.
func TestRestoreRefusesDamagedFiles(t *testing.T) {
	srcDir := t.TempDir()
	src := testcluster.StartNodeAt(t, srcDir)
	testcluster.FillDataset(t, src.URL(), 2, 1, 1)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.backup")
	if _, err := classboardCmd(t, "backup", "--data", srcDir, "--to", good); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}

	dstDir := t.TempDir()
	dst := testcluster.StartNodeAt(t, dstDir)
	mine := testcluster.FillDataset(t, dst.URL(), 1, 1, 1)

	flip := bytes.Clone(raw)
	flip[len(flip)/2] ^= 0x40
	wrongVersion := bytes.Replace(bytes.Clone(raw), []byte("classboard-backup 1 "), []byte("classboard-backup 2 "), 1)
	key := filepath.Join(dir, "other.key")
	encrypted := filepath.Join(dir, "encrypted.backup")
	for _, args := range [][]string{{"keygen", "--to", key}, {"keygen", "--to", filepath.Join(dir, "right.key")},
		{"backup", "--data", srcDir, "--to", encrypted, "--key-file", filepath.Join(dir, "right.key")}} {
		if _, err := classboardCmd(t, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
		args []string
		want string
	}{
		{"truncated", raw[:len(raw)*2/3], nil, "truncated"},
		{"cut just before the checksum", raw[:len(raw)-40], nil, "truncated"},
		{"a flipped bit", flip, nil, "corrupt"},
		{"a newer format", wrongVersion, nil, "format 2"},
		{"not a backup", []byte("hello\n"), nil, "not a classboard backup"},
		{"empty", nil, nil, "empty"},
		{"encrypted, wrong key", nil, []string{"--key-file", key}, "another key"},
		{"encrypted, a flipped bit", nil, []string{"--key-file", filepath.Join(dir, "right.key")}, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			content := tc.data
			if strings.HasPrefix(tc.name, "encrypted") {
				var err error
				if content, err = os.ReadFile(encrypted); err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(tc.name, "bit") {
					content[len(content)/2] ^= 0x40
				}
			}
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"--verify"}, {"--data", dstDir, "--replace"}} {
				out, err := classboardCmd(t, append(append([]string{"restore", "--from", path}, args...), tc.args...)...)
				if err == nil || !strings.Contains(out+err.Error(), tc.want) {
					t.Errorf("restore %v: %v; want an error saying %q", args, err, tc.want)
				}
			}
			mine.Check(t, dst.URL())
		})
	}
	if _, err := classboardCmd(t, "restore", "--from", good, "--verify"); err != nil {
		t.Errorf("the good file does not verify: %v", err)
	}
}

// TestBackupOfAStoppedNode reads a stopped single node's data directory,
// with mail the provider has not accepted yet still queued: the restored
// node sends it.
func TestBackupOfAStoppedNode(t *testing.T) {
	// Sign-ups need no confirmation mail without SMTP; the node is then
	// started again with a provider that says "try again later", so reset
	// links stay queued.
	dir := t.TempDir()
	first := testcluster.StartNodeAt(t, dir)
	data := testcluster.FillDataset(t, first.URL(), 2, 1, 1)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	smtp := smtptest.Start(t)
	smtp.Refuse(451)
	cfg := testcluster.NodeConfig(dir)
	testcluster.WithSMTP(smtp.Addr)(&cfg)
	n, err := node.Open(cfg, testcluster.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, dt := range data.Teachers {
		if res := apitest.New(n.URL()).Do(t, "POST", "/api/v1/password-resets", map[string]string{"email": dt.Email}); res.Status != http.StatusAccepted {
			t.Fatalf("reset: %d %s", res.Status, res.Body)
		}
	}
	poll.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if smtp.Connections() == 0 {
			return errors.New("no delivery attempt yet")
		}
		return nil
	})
	access, err := os.ReadFile(filepath.Join(dir, store.LocalAccessFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// A node killed without a clean stop leaves its access file behind.
	if err := os.WriteFile(filepath.Join(dir, store.LocalAccessFile), access, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "stopped.backup")
	if _, err := classboardCmd(t, "backup", "--data", dir, "--to", file); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := store.VerifyBackup(f)
	if err != nil {
		t.Fatal(err)
	}
	queued := 0
	for _, st := range m.Streams {
		if st.Name == "OUTBOX" {
			queued = int(st.Messages)
		}
	}
	if queued < len(data.Teachers) {
		t.Errorf("the backup holds %d queued mails, want at least the %d reset links", queued, len(data.Teachers))
	}
	target := t.TempDir()
	if _, err := classboardCmd(t, "restore", "--from", file, "--data", target); err != nil {
		t.Fatal(err)
	}
	smtp.Recover()
	data.Check(t, testcluster.StartNodeAt(t, target, testcluster.WithSMTP(smtp.Addr)).URL())
	links := 0
	for _, msg := range smtp.WaitMessages(t, queued, 30*time.Second) {
		if _, _, err := msg.ResetLink(); err == nil {
			links++
		}
	}
	// The first node may also have left a sign-up's reset link queued.
	if links < len(data.Teachers) {
		t.Errorf("the restored node sent %d reset links, want at least %d", links, len(data.Teachers))
	}
}

// TestBackupThroughNATSURL backs up and restores through NATS URLs, as for
// nodes that use an external NATS cluster (--nats-url). The running nodes'
// local access files stand in for the operator's credentials.
func TestBackupThroughNATSURL(t *testing.T) {
	natsURL := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, store.LocalAccessFile))
		if err != nil {
			t.Fatal(err)
		}
		var la struct{ URL, User, Password string }
		if err := json.Unmarshal(b, &la); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(la.URL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(la.User, la.Password)
		return u.String()
	}
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src := testcluster.StartNodeAt(t, srcDir)
	data := testcluster.FillDataset(t, src.URL(), 2, 1, 1)
	dst := testcluster.StartNodeAt(t, dstDir)
	file := filepath.Join(t.TempDir(), "external.backup")
	out, err := classboardCmd(t, "backup", "--from", natsURL(srcDir), "--to", file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "password") || strings.Contains(out, natsURL(srcDir)) {
		t.Errorf("the output shows the URL's password:\n%s", out)
	}
	if _, err := classboardCmd(t, "restore", "--from", file, "--nats-url", natsURL(dstDir)); err != nil {
		t.Fatal(err)
	}
	data.Check(t, dst.URL())
}

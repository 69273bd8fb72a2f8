package testcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is a node running as a child process of the classboard binary.
type process struct {
	m    *Member
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *os.File
}

func (m *Member) args() []string {
	return []string{"serve",
		"--addr", m.httpAddr,
		"--data", filepath.Join(m.dir, "data"),
		"--node-name", m.Name,
		"--cluster-addr", m.clusterAddr,
		"--cluster-advertise", deadAddr,
		"--peers", strings.Join(m.peers, ","),
		"--cluster-secret-file", m.c.secret,
		"--public-urls", strings.Join(m.c.Origins(), ","),
		"--ui-url", m.c.UIURL(),
		"--log-level", "debug",
	}
}

func (m *Member) logPath() string { return filepath.Join(m.dir, "node.log") }

func (m *Member) startProcess() (runner, error) {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(m.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	bin := m.c.bin
	if m.bin != "" {
		bin = m.bin
	}
	cmd := exec.Command(bin, m.args()...)
	cmd.Env = os.Environ()
	var out io.Writer = f
	if os.Getenv("CLASSBOARD_TEST_LOG") != "" {
		out = io.MultiWriter(f, os.Stderr)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &process{m: m, cmd: cmd, done: make(chan struct{}), log: f}
	go func() {
		cmd.Wait() //nolint:errcheck // killed on purpose, or it failed and the log says why
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// kill is kill -9 of the process this test started, by its PID.
func (p *process) kill() {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.m.c.t.Errorf("kill -9 %s (pid %d): %v", p.m.Name, p.cmd.Process.Pid, err)
	}
	<-p.done
}

// stop sends SIGTERM (a planned stop, whatever planned says) and waits;
// after the grace period it kills.
func (p *process) stop(bool) {
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.m.c.t.Errorf("%s did not stop on SIGTERM within 20s; killing it", p.m.Name)
		p.kill()
	}
}

// dumpLog writes the end of a process node's log to the test log.
func (m *Member) dumpLog() {
	f, err := os.Open(m.logPath())
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 60 {
			lines = lines[1:]
		}
	}
	m.c.t.Logf("last lines of %s's log:\n%s", m.Name, strings.Join(lines, "\n"))
}

// Package packaging_test checks the files in packaging/ that no Go code
// reads: the systemd unit, the alerting rules and the compose file.
package packaging_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tool returns the path of a command from a Debian package. CI installs
// them, so there a missing one fails the test instead of skipping it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing; .ci/run installs it (apt-get install %s)", name, pkg)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

// unitCopy writes the unit with ExecStart pointing at a stand-in
// executable: verify checks that the binary exists, and nothing else
// differs from the installed unit.
func unitCopy(t *testing.T) string {
	t.Helper()
	unit, err := os.ReadFile("classboard.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "classboard")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/classboard ")) {
		t.Fatal("ExecStart no longer runs /usr/local/bin/classboard; update this test and the docs")
	}
	unit = bytes.ReplaceAll(unit, []byte("/usr/local/bin/classboard"), []byte(bin))
	path := filepath.Join(dir, "classboard.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// systemd accepts the unit without a single complaint (verify exits 0 on
// unknown keys and bad values, so any output fails the test), and its
// own security review rates it at most 2.0 ("OK"; 0 is best, 10 worst).
func TestSystemdUnit(t *testing.T) {
	sa := tool(t, "systemd-analyze", "systemd")
	unit := unitCopy(t)
	out, err := exec.Command(sa, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=yes", "--threshold=20", "--no-pager", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	t.Logf("%s", lastLine(out))
}

// The settings docs/operations.md promises are in the unit.
func TestSystemdUnitHardening(t *testing.T) {
	f, err := os.Open("classboard.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			set[k] = v
		}
	}
	for k, v := range map[string]string{
		"DynamicUser":     "yes",
		"StateDirectory":  "classboard",
		"ProtectSystem":   "strict",
		"NoNewPrivileges": "yes",
		"LimitNOFILE":     "65536",
		"KillSignal":      "SIGTERM",
		"PrivateTmp":      "yes",
	} {
		if set[k] != v {
			t.Errorf("%s=%q, want %q", k, set[k], v)
		}
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// The alerting rules are valid, and each fires when it should and not
// before (alerts_test.yml, promtool's own rule tests).
func TestAlertRules(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

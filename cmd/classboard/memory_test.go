package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // put the test binary's limit back
	dir := t.TempDir()
	cg := filepath.Join(dir, "memory.max")
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name   string
		flag   int64
		cgroup string // "" for no file
		env    string
		want   int64
	}{
		{"flag", 1 << 30, "", "", 1 << 30},
		{"from the container", 0, "2147483648\n", "", 2147483648 / 10 * 9},
		{"unlimited container", 0, "max\n", "", 0},
		{"no container", 0, "", "", 0},
		{"GOMEMLIMIT wins", 1 << 30, "", "512MiB", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(cg)
			if tc.cgroup != "" {
				if err := os.WriteFile(cg, []byte(tc.cgroup), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			getenv := noEnv
			if tc.env != "" {
				getenv = func(k string) string {
					if k == "GOMEMLIMIT" {
						return tc.env
					}
					return ""
				}
			}
			if got := memoryLimit(tc.flag, getenv, cg); got != tc.want {
				t.Fatalf("limit %d, want %d", got, tc.want)
			}
			if tc.want > 0 && debug.SetMemoryLimit(-1) != tc.want {
				t.Fatalf("runtime limit not set")
			}
		})
	}
}

package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimit sets the Go runtime's soft memory limit (GOMEMLIMIT) for the
// process: limit bytes when given, else 90 % of the container's memory
// limit (cgroup v2 memory.max) when there is one, else none. Near the
// limit the garbage collector runs more often instead of letting the heap
// double (GOGC=100), so a node fills the memory it is given with
// connections rather than with garbage, and is not killed for it. A
// GOMEMLIMIT in the environment wins. It returns the limit set (0: none).
func memoryLimit(limit int64, getenv func(string) string, cgroupMax string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	if limit <= 0 {
		limit = cgroupLimit(cgroupMax) / 10 * 9
	}
	if limit <= 0 {
		return 0
	}
	debug.SetMemoryLimit(limit)
	return limit
}

// cgroupLimit reads a cgroup v2 memory.max file: bytes, or 0 for "max"
// or none.
func cgroupLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

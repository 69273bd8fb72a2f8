package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set by the release build: -ldflags "-X main.version=v1.2.0 -X
// main.commit=0123abc" (scripts/release.sh). A plain go build leaves
// them empty; buildInfo then asks the binary's own build information.
var version, commit string

// buildInfo is what `classboard version` prints and the metrics label.
type buildInfo struct {
	Version, Commit, GoVersion string
}

// currentBuild returns the version and commit set at link time, else
// those the go command recorded (a module version for go install, the VCS
// revision for a build in a git checkout), else "dev" and "unknown".
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		if b.Commit == "" {
			b.Commit = vcsRevision(info.Settings)
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// vcsRevision is the recorded revision, marked when the tree had changes.
func vcsRevision(settings []debug.BuildSetting) string {
	var rev string
	modified := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += "-dirty"
	}
	return rev
}

func printVersion(w io.Writer) {
	b := currentBuild()
	fmt.Fprintf(w, "classboard %s (commit %s, %s)\n", b.Version, b.Commit, b.GoVersion)
}

package packaging_test

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of compose.yaml the cluster depends on.
type composeFile struct {
	Services map[string]struct {
		Build       struct{ Context, Dockerfile string }
		Environment map[string]string
		Ports       []string
		Volumes     []string
		Secrets     []string
	}
	Secrets map[string]struct{ File string }
	Volumes map[string]any
}

// No Docker engine runs here, so the compose file is checked for what
// makes three nodes a cluster: every node names all three as peers and
// advertises its own name, each has its own name, data volume and host
// ports, the public URLs are the published ports, metrics are published
// on loopback only, and the build points at the Dockerfile.
func TestComposeFileFormsACluster(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	names := []string{"n1", "n2", "n3"}
	if got := slices.Sorted(maps.Keys(c.Services)); !slices.Equal(got, names) {
		t.Fatalf("services %v, want %v", got, names)
	}
	var peers []string
	for _, n := range names {
		peers = append(peers, n+":6222")
	}
	var published []string
	seen := map[string]string{}
	for i, name := range names {
		s := c.Services[name]
		env := s.Environment
		for k, want := range map[string]string{
			"CLASSBOARD_NODE_NAME":           name,
			"CLASSBOARD_CLUSTER_ADVERTISE":   name + ":6222",
			"CLASSBOARD_CLUSTER_ADDR":        "0.0.0.0:6222",
			"CLASSBOARD_PEERS":               strings.Join(peers, ","),
			"CLASSBOARD_CLUSTER_SECRET_FILE": "/run/secrets/cluster_secret",
		} {
			if env[k] != want {
				t.Errorf("%s: %s=%q, want %q", name, k, env[k], want)
			}
		}
		if s.Build.Context != ".." || s.Build.Dockerfile != "packaging/Dockerfile" {
			t.Errorf("%s: build %+v", name, s.Build)
		}
		if !slices.Contains(s.Secrets, "cluster_secret") {
			t.Errorf("%s: no cluster secret", name)
		}
		app, metrics := fmt.Sprintf("127.0.0.1:%d:8080", 8081+i), fmt.Sprintf("127.0.0.1:%d:9100", 9101+i)
		if !slices.Equal(s.Ports, []string{app, metrics}) {
			t.Errorf("%s: ports %v, want %v", name, s.Ports, []string{app, metrics})
		}
		published = append(published, fmt.Sprintf("http://localhost:%d", 8081+i))
		if len(s.Volumes) != 1 || !strings.HasSuffix(s.Volumes[0], ":/data") {
			t.Errorf("%s: volumes %v", name, s.Volumes)
			continue
		}
		vol := strings.TrimSuffix(s.Volumes[0], ":/data")
		if other, dup := seen[vol]; dup {
			t.Errorf("%s and %s share the volume %s", name, other, vol)
		}
		seen[vol] = name
		if _, ok := c.Volumes[vol]; !ok {
			t.Errorf("%s: volume %s is not declared", name, vol)
		}
	}
	for _, name := range names {
		if got := c.Services[name].Environment["CLASSBOARD_PUBLIC_URLS"]; got != strings.Join(published, ",") {
			t.Errorf("%s: public URLs %q, want the published ports %q", name, got, strings.Join(published, ","))
		}
	}
	if c.Secrets["cluster_secret"].File != "./cluster-secret" {
		t.Errorf("cluster secret from %q", c.Secrets["cluster_secret"].File)
	}
}

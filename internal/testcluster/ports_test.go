package testcluster

import (
	"net"
	"testing"
)

// Two picks never share a port while their tests run, even when a second
// process (here: a second lock on the same file) tries the same one.
func TestReservePortIsExclusiveUntilReleased(t *testing.T) {
	dir := t.TempDir()
	first, err := reservePort(dir, 20001)
	if err != nil || first == nil {
		t.Fatalf("first reservation: %v, %v", first, err)
	}
	second, err := reservePort(dir, 20001)
	if err != nil || second != nil {
		t.Fatalf("second reservation of a held port: %v, %v; want nil, nil", second, err)
	}
	first.Close()
	again, err := reservePort(dir, 20001)
	if err != nil || again == nil {
		t.Fatalf("reservation after release: %v, %v", again, err)
	}
	again.Close()
}

func TestFreeAddrGivesDistinctBindablePorts(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
	}
	ln, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatalf("bind a picked address: %v", err)
	}
	ln.Close()
}

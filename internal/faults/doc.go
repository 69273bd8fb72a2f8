// Package faults holds the cluster fault tests: three nodes, one of them
// killed (kill -9), partitioned, slowed or silently cut off, while clients
// keep working. Every test asserts that no acknowledged write is lost and
// that the replicas agree afterwards; times are logged, never asserted.
//
// The CI variants take about three minutes. The soak variant kills a node
// 21 times (enough for a p99) instead of 3:
//
//	go test ./internal/faults -run TestKillAndRollingRestart -classboard.soak -timeout 30m -v
package faults

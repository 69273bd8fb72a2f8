// Package faults holds the cluster fault tests: three nodes, one of them
// killed (kill -9), partitioned, slowed or silently cut off, while clients
// keep working. Every test asserts that no acknowledged write is lost and
// that the replicas agree afterwards; times are logged, never asserted.
// Boards connected over websocket are moved off a node that loses its
// quorum, follow the teacher through kills, and spread back over the nodes
// when one returns.
//
// The CI variants take about five minutes. The soak variants kill a node
// 21 times (enough for a p99) instead of once or three times:
//
//	go test ./internal/faults -run TestKillAndRollingRestart -classboard.soak -timeout 30m -v
//	go test ./internal/faults -run TestKillWhileSteering -classboard.soak -timeout 40m -v
package faults

// Package e2e holds end-to-end tests: real nodes and real browsers.
package e2e

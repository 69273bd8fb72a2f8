//go:build !linux && !darwin

package store

import (
	"errors"
	"fmt"
)

// diskSpace is not implemented here: classboard is released for Linux.
func diskSpace(string) (free, size uint64, err error) {
	return 0, 0, fmt.Errorf("disk space: %w", errors.ErrUnsupported)
}

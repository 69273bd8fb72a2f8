package store

import (
	"context"
	"fmt"

	"github.com/classboard/classboard"
)

// TeacherLimits bounds what one teacher keeps; zero fields take the
// classboard defaults (tests lower them).
type TeacherLimits struct {
	Lessons int
	Media   int
	Boards  int
}

func (l TeacherLimits) withDefaults() TeacherLimits {
	if l.Lessons <= 0 {
		l.Lessons = classboard.DefaultMaxLessonsPerTeacher
	}
	if l.Media <= 0 {
		l.Media = classboard.DefaultMaxMediaPerTeacher
	}
	if l.Boards <= 0 {
		l.Boards = classboard.DefaultMaxBoardsPerTeacher
	}
	return l
}

// atLimit returns EQUOTA when have has reached limit. Two creations at the
// same moment may together pass the limit by one each: the limit is a
// bound on growth, not an exact count.
func atLimit(have, limit int, what, advice string) error {
	if have < limit {
		return nil
	}
	return classboard.Errorf(classboard.EQUOTA, "You have %d %s, the most one account may keep; %s", have, what, advice)
}

// countKeys counts a bucket's keys under a filter (the store's answer
// when the view cannot give it).
func countKeys(ctx context.Context, bk *bucket, filter string) (int, error) {
	keys, err := bk.keys(ctx, filter)
	if err != nil {
		return 0, storeErr(fmt.Errorf("count %s: %w", filter, err))
	}
	return len(keys), nil
}

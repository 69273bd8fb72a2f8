package classboard

// Per-teacher limits: nothing a teacher (or a school's shared account) can
// create grows without bound. Past a limit the API answers 413
// quota_exceeded (EQUOTA) with a message saying which limit and what to do.
// A node's store configuration may lower or raise them.
const (
	// DefaultMaxLessonsPerTeacher: a school's shared account with a large
	// library stays well under it; listing costs the same at this size as
	// at 50 (the node keeps a per-teacher index).
	DefaultMaxLessonsPerTeacher = 50_000
	// DefaultMaxMediaPerTeacher bounds the pictures one teacher keeps,
	// besides their total size (DefaultMediaQuota).
	DefaultMaxMediaPerTeacher = 10_000
	// DefaultMaxBoardsPerTeacher bounds the boards paired with one teacher:
	// a school's shared account pairs every board of a school.
	DefaultMaxBoardsPerTeacher = 1_000
)

package classboard

// List limits shared by every list endpoint.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// ListOptions selects one page of a list.
type ListOptions struct {
	Limit  int    // 1..MaxPageSize
	Cursor string // opaque, from the previous page's NextCursor
	Order  string // a list's own order names; "" for its default
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

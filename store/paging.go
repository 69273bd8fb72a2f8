package store

import (
	"encoding/base64"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/classboard/classboard"
)

// paginate returns one page of items in the ascending order of key, which
// must be unique per item (end it with the item's id). The cursor is the
// key of the last item sent, so a page never repeats or skips an item when
// others are added or removed between requests.
func paginate[T any](items []T, key func(T) string, opts classboard.ListOptions) (*classboard.Page[T], error) {
	limit, after, err := pageParams(opts)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(items))
	idx := make([]int, len(items))
	for i, it := range items {
		keys[i], idx[i] = key(it), i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	return pageOf(len(idx), func(i int) string { return keys[idx[i]] }, func(i int) T { return items[idx[i]] }, after, limit), nil
}

// pageParams checks a list request's page size and cursor and returns the
// size and the key the page starts after ("" for the first page).
func pageParams(opts classboard.ListOptions) (int, string, error) {
	limit := opts.Limit
	if limit == 0 {
		limit = classboard.DefaultPageSize
	}
	if limit < 1 || limit > classboard.MaxPageSize {
		return 0, "", &classboard.Error{Code: classboard.EINVALID, Message: "The page size is out of range.",
			Fields: map[string]string{"limit": "must be a number from 1 to 200"}}
	}
	after := ""
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil || len(b) == 0 {
			return 0, "", &classboard.Error{Code: classboard.EINVALID, Message: "The cursor is not valid.",
				Fields: map[string]string{"cursor": "is not a cursor this list gave"}}
		}
		after = string(b)
	}
	return limit, after, nil
}

// pageOf cuts the page of up to limit items after the key after from n
// items sorted by their keys (keyAt ascending, never ""): a binary search
// and the page, whatever n is.
func pageOf[T any](n int, keyAt func(int) string, itemAt func(int) T, after string, limit int) *classboard.Page[T] {
	start := sort.Search(n, func(i int) bool { return keyAt(i) > after })
	end := min(n, start+limit)
	page := &classboard.Page[T]{Items: make([]T, 0, end-start)}
	for i := start; i < end; i++ {
		page.Items = append(page.Items, itemAt(i))
	}
	if end < n {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(keyAt(end - 1)))
	}
	return page
}

// newestFirst is a sort key that orders later times first: the distance
// to the end of time, zero-padded so that text order is number order.
func newestFirst(t time.Time, id string) string {
	return padded(math.MaxInt64-t.UnixNano()) + "\x00" + id
}

func padded(n int64) string {
	// A time before what UnixNano represents (a zero time in a damaged
	// document) overflows n negative; it sorts as the oldest instead of
	// panicking in the view's watch goroutine, which would stop the node.
	if n < 0 {
		n = math.MaxInt64
	}
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 19-len(s)) + s
}

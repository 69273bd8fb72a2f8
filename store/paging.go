package store

import (
	"encoding/base64"
	"math"
	"slices"
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
	limit := opts.Limit
	if limit == 0 {
		limit = classboard.DefaultPageSize
	}
	if limit < 1 || limit > classboard.MaxPageSize {
		return nil, &classboard.Error{Code: classboard.EINVALID, Message: "The page size is out of range.",
			Fields: map[string]string{"limit": "must be a number from 1 to 200"}}
	}
	after := ""
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil || len(b) == 0 {
			return nil, &classboard.Error{Code: classboard.EINVALID, Message: "The cursor is not valid.",
				Fields: map[string]string{"cursor": "is not a cursor this list gave"}}
		}
		after = string(b)
	}
	keys := make([]string, len(items))
	idx := make([]int, len(items))
	for i, it := range items {
		keys[i], idx[i] = key(it), i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(idx, after, func(i int, k string) int {
			if keys[i] <= k {
				return -1
			}
			return 1
		})
	}
	page := &classboard.Page[T]{Items: make([]T, 0, min(limit, len(idx)-start))}
	end := min(len(idx), start+limit)
	for _, i := range idx[start:end] {
		page.Items = append(page.Items, items[i])
	}
	if end < len(idx) {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(keys[idx[end-1]]))
	}
	return page, nil
}

// newestFirst is a sort key that orders later times first: the distance
// to the end of time, zero-padded so that text order is number order.
func newestFirst(t time.Time, id string) string {
	return padded(math.MaxInt64-t.UnixNano()) + "\x00" + id
}

func padded(n int64) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 19-len(s)) + s
}

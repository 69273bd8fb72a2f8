package api

import (
	"net/http"
	"strconv"

	"github.com/classboard/classboard"
)

// listOptions reads ?limit=, ?cursor= and ?order= of a list whose cursor
// the store gives (opaque here; the store checks it).
func listOptions(r *http.Request) (classboard.ListOptions, error) {
	q := r.URL.Query()
	opts := classboard.ListOptions{Cursor: q.Get("cursor"), Order: q.Get("order")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > classboard.MaxPageSize {
			return opts, &classboard.Error{Code: classboard.EINVALID, Message: "The page size is out of range.",
				Fields: map[string]string{"limit": "must be a number from 1 to 200"}}
		}
		opts.Limit = n
	}
	return opts, nil
}

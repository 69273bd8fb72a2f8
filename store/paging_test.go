package store

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

type item struct {
	id string
	at time.Time
}

func pages(t *testing.T, items []item, limit int, key func(item) string) [][]string {
	t.Helper()
	var out [][]string
	cursor := ""
	for range 100 {
		p, err := paginate(items, key, classboard.ListOptions{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range p.Items {
			ids = append(ids, it.id)
		}
		out = append(out, ids)
		if p.NextCursor == "" {
			return out
		}
		cursor = p.NextCursor
	}
	t.Fatal("no last page")
	return nil
}

func TestPaginate(t *testing.T) {
	base := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	var items []item
	for i := range 7 {
		// Two items share each time: the id breaks the tie.
		items = append(items, item{id: fmt.Sprintf("id%d", i), at: base.Add(time.Duration(i/2) * time.Minute)})
	}
	byNewest := func(it item) string { return newestFirst(it.at, it.id) }
	got := pages(t, items, 3, byNewest)
	want := [][]string{{"id6", "id4", "id5"}, {"id2", "id3", "id0"}, {"id1"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
	if got := pages(t, items, 7, byNewest); len(got) != 1 || len(got[0]) != 7 {
		t.Fatalf("one full page: %v", got)
	}
	if got := pages(t, nil, 3, byNewest); len(got) != 1 || len(got[0]) != 0 {
		t.Fatalf("empty list: %v", got)
	}

	// An item removed after the first page neither shifts nor repeats others.
	first, _ := paginate(items, byNewest, classboard.ListOptions{Limit: 3})
	rest := slices.DeleteFunc(slices.Clone(items), func(it item) bool { return it.id == "id5" || it.id == "id2" })
	second, _ := paginate(rest, byNewest, classboard.ListOptions{Limit: 3, Cursor: first.NextCursor})
	if len(second.Items) != 3 || second.Items[0].id != "id3" {
		t.Fatalf("after removal: %v", second.Items)
	}

	for _, opts := range []classboard.ListOptions{{Limit: 201}, {Limit: -1}, {Cursor: "***"}, {Cursor: ""}} {
		_, err := paginate(items, byNewest, opts)
		if (classboard.ErrorCode(err) == classboard.EINVALID) != (opts.Limit != 0 || opts.Cursor != "") {
			t.Errorf("%+v: %v", opts, err)
		}
	}
}

// A zero time (a damaged document) sorts after every real one instead of
// panicking.
func TestNewestFirstZeroTime(t *testing.T) {
	zero, now := newestFirst(time.Time{}, "a"), newestFirst(time.Now(), "b")
	if len(zero) != len(now) || zero < now {
		t.Fatalf("zero time key %q, now %q", zero, now)
	}
}

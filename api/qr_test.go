package api

import (
	"fmt"
	"strings"
	"testing"
)

// A join code's QR code is made once and then answered from memory; the
// memory holds at most qrCacheSize codes, and a text too long for a QR
// code is an error that is not kept.
func TestQRCodesCachedAndBounded(t *testing.T) {
	q := newQRCodes()
	first, err := q.dataURL("https://school.example/join#code=ABC123", 320)
	if err != nil || !strings.HasPrefix(first, "data:image/png;base64,") {
		t.Fatalf("first: %.40q %v", first, err)
	}
	if again, _ := q.dataURL("https://school.example/join#code=ABC123", 320); again != first {
		t.Fatal("the same code gave another picture")
	}
	if bigger, _ := q.dataURL("https://school.example/join#code=ABC123", 512); bigger == first {
		t.Fatal("another size gave the same picture")
	}
	for i := range qrCacheSize + 10 {
		if _, err := q.dataURL(fmt.Sprintf("https://school.example/join#code=%06d", i), 320); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(q.cache); n > qrCacheSize {
		t.Fatalf("%d codes kept, want at most %d", n, qrCacheSize)
	}
	if u, err := q.dataURL(strings.Repeat("x", 8000), 320); err == nil || u != "" {
		t.Fatalf("an over-long text: %.40q %v", u, err)
	}
	if _, kept := q.cache[qrKey{strings.Repeat("x", 8000), 320}]; kept {
		t.Fatal("a failed code was kept")
	}
}

// BenchmarkQRJoinCode: what a PUT of an activity spends on its join
// code's QR code, made afresh and from the cache.
func BenchmarkQRJoinCode(b *testing.B) {
	const join = "https://school.example/join#code=ABC123"
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeQR(join, 320); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		q := newQRCodes()
		for b.Loop() {
			if _, err := q.dataURL(join, 320); err != nil {
				b.Fatal(err)
			}
		}
	})
}

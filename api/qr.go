package api

import (
	"encoding/base64"
	"sync"

	"github.com/skip2/go-qrcode"
)

// qrCacheSize bounds the QR codes a node keeps: the join codes of the
// rooms running on it, pairing links and the links of lessons shown lately
// (a few KiB each).
const qrCacheSize = 512

// qrCodes makes QR codes as data: URLs of PNGs, each once (never one
// holding a secret, which would then stay in memory): every PUT of a
// board's activity answers with its join code's QR code, and every read
// of a board's lesson with its links'; encoding one takes about a
// millisecond, a cached one microseconds (BenchmarkQRJoinCode,
// docs/benchmarks.md).
type qrCodes struct {
	mu    sync.Mutex
	cache map[qrKey]string
}

type qrKey struct {
	text string
	size int
}

func newQRCodes() *qrCodes { return &qrCodes{cache: map[qrKey]string{}} }

// dataURL returns a QR code of text, size pixels square, as a data: URL,
// or "" and an error for a text too long for any QR code.
func (q *qrCodes) dataURL(text string, size int) (string, error) {
	k := qrKey{text, size}
	q.mu.Lock()
	u, ok := q.cache[k]
	q.mu.Unlock()
	if ok {
		return u, nil
	}
	// Encoded outside the lock: two requests for a new code may both
	// encode it, which is cheaper than making every other code wait.
	u, err := encodeQR(text, size)
	if err != nil {
		return "", err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.cache) >= qrCacheSize {
		for old := range q.cache { // any one: the cache only saves work
			delete(q.cache, old)
			break
		}
	}
	q.cache[k] = u
	return u, nil
}

func encodeQR(text string, size int) (string, error) {
	png, err := qrcode.Encode(text, qrcode.Medium, size)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// qr returns a QR code of text as a data: URL, or "". Only a text too long
// for any QR code fails; validation keeps texts far below that, and the
// apps show the text beside the code.
func (s *Server) qr(text string, size int) string {
	return s.qrOrLog(s.qrs.dataURL(text, size))
}

// secretQR is qr for a text holding a secret: made each time, kept nowhere.
func (s *Server) secretQR(text string, size int) string {
	return s.qrOrLog(encodeQR(text, size))
}

func (s *Server) qrOrLog(u string, err error) string {
	if err != nil {
		s.log.Warn("make QR code", "err", err)
	}
	return u
}

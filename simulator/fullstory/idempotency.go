package fullstory

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const maxIdempotencyKeyLen = 255

// idemEntry is the first answer to a request carrying an Idempotency-Key.
type idemEntry struct {
	fingerprint [sha256.Size]byte
	done        bool // false while the first request runs
	status      int
	body        []byte
	expires     time.Time
}

// idemCache maps (API key, Idempotency-Key) to the first answer.
type idemCache struct {
	mu        sync.Mutex
	m         map[string]*idemEntry
	lastSweep time.Time
}

func newIdemCache() *idemCache { return &idemCache{m: map[string]*idemEntry{}} }

func (c *idemCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[string]*idemEntry{}
}

type idemState int

const (
	idemNew idemState = iota
	idemReplay
	idemMismatch
	idemInFlight
)

// begin looks key up; for a new key it records an in-flight entry.
func (c *idemCache) begin(key string, fp [sha256.Size]byte, now time.Time) (idemState, idemEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastSweep) > time.Minute || now.Before(c.lastSweep) {
		for k, e := range c.m {
			if e.done && !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		c.lastSweep = now
	}
	e, ok := c.m[key]
	if ok && e.done && !now.Before(e.expires) {
		ok = false
	}
	switch {
	case !ok:
		c.m[key] = &idemEntry{fingerprint: fp}
		return idemNew, idemEntry{}
	case e.fingerprint != fp:
		return idemMismatch, idemEntry{}
	case !e.done:
		return idemInFlight, idemEntry{}
	}
	return idemReplay, *e
}

func (c *idemCache) finish(key string, status int, body []byte, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && !e.done {
		e.done, e.status, e.body, e.expires = true, status, body, expires
	}
}

func (c *idemCache) abort(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && !e.done {
		delete(c.m, key)
	}
}

// bufferedWriter captures an answer so it can be stored and replayed.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// idempotent honours the Idempotency-Key header on POST: the first answer
// (status and body) is stored per API key and replayed for the same key
// for IdempotencyKeyTTL; the same key with a different method, path or
// body gets 400 idempotency_key_reused; a key whose first request is still
// running gets 409 idempotency_key_in_use. Answers with status >= 500 are
// not stored.
func (s *Server) idempotent(h apiHandlerFunc) apiHandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p principal) error {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			return h(w, r, p)
		}
		if len(key) > maxIdempotencyKeyLen {
			return invalidf("Idempotency-Key is longer than %d characters", maxIdempotencyKeyLen)
		}
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		fp := sha256.New()
		fp.Write([]byte(r.Method + "\x00" + r.URL.Path + "\x00"))
		fp.Write(body)
		var fingerprint [sha256.Size]byte
		copy(fingerprint[:], fp.Sum(nil))
		keyHash := sha256.Sum256([]byte(p.key)) // never keep the API key itself
		scoped := string(keyHash[:16]) + "\x00" + key

		now := s.now()
		state, e := s.idem.begin(scoped, fingerprint, now)
		switch state {
		case idemMismatch:
			return errorf(http.StatusBadRequest, CodeIdempotencyKeyReused, "Idempotency-Key %q was already used with a different request", truncate(key, 64))
		case idemInFlight:
			return errorf(http.StatusConflict, CodeIdempotencyInFlight, "a request with Idempotency-Key %q is still being processed", truncate(key, 64))
		case idemReplay:
			w.Header().Set("Idempotent-Replayed", "true")
			writeJSONBytes(w, e.status, e.body)
			return nil
		}

		bw := &bufferedWriter{header: http.Header{}}
		completed := false
		defer func() {
			if !completed {
				s.idem.abort(scoped)
			}
		}()
		if err := h(bw, r, p); err != nil {
			writeError(bw, err)
		}
		completed = true
		if bw.status == 0 {
			bw.status = http.StatusOK
		}
		if bw.status < 500 {
			s.idem.finish(scoped, bw.status, bytes.Clone(bw.body.Bytes()), now.Add(IdempotencyKeyTTL))
		} else {
			s.idem.abort(scoped)
		}
		for k, v := range bw.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(bw.body.Len()))
		w.WriteHeader(bw.status)
		_, _ = w.Write(bw.body.Bytes())
		return nil
	}
}

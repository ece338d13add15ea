package fullstory

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

type faultKind int

const (
	faultNone faultKind = iota
	faultDrop
	faultRateLimited
	faultError500
	faultError503
)

type faultDecision struct {
	kind       faultKind
	latency    time.Duration
	retryAfter time.Duration
}

// decideFault draws the fate of one request. With any rate set, every
// request draws exactly one number from the seeded RNG, so a sequential
// test sees the same faults on every run.
func (s *Server) decideFault() faultDecision {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f := s.faults
	d := faultDecision{latency: f.Latency}
	u := 1.0
	if f.DropRate > 0 || f.ErrorRate > 0 {
		u = s.rng.Float64()
	}
	if u < f.DropRate {
		d.kind = faultDrop
		return d
	}
	if f.RateLimitRPS > 0 {
		rps := float64(f.RateLimitRPS)
		now := s.now()
		if s.refill.IsZero() {
			s.tokens = rps
		} else if el := now.Sub(s.refill); el > 0 {
			s.tokens = min(rps, s.tokens+el.Seconds()*rps)
		}
		s.refill = now
		if s.tokens < 1 {
			d.kind = faultRateLimited
			d.retryAfter = time.Duration((1 - s.tokens) / rps * float64(time.Second))
			return d
		}
		s.tokens--
	}
	switch {
	case u < f.DropRate+f.ErrorRate/2:
		d.kind = faultError503
	case u < f.DropRate+f.ErrorRate:
		d.kind = faultError500
	}
	return d
}

// injectFaults applies latency, drops, rate limiting and errors before the
// API routes. Errors below /scim/v2 are rendered in SCIM's error schema.
func (s *Server) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErr := writeError
		if isSCIMPath(r.URL.Path) {
			writeErr = writeSCIMError
		}
		d := s.decideFault()
		if d.latency > 0 {
			t := time.NewTimer(d.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch d.kind {
		case faultDrop:
			dropConnection(w)
		case faultRateLimited:
			writeErr(w, &apiError{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
				Message: "rate limit exceeded", RetryAfter: max(d.retryAfter, time.Second)})
		case faultError503:
			writeErr(w, &apiError{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable,
				Message: "service unavailable (injected fault)", RetryAfter: time.Second})
		case faultError500:
			writeErr(w, &apiError{Status: http.StatusInternalServerError, Code: CodeServerError,
				Message: "internal server error (injected fault)"})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// dropConnection closes the client's connection without an answer: by
// hijacking it on HTTP/1, by aborting the stream otherwise.
func dropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// statusWriter records the status of an answer for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests appends every API request to the request log once answered
// (status 0: dropped).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		defer func() {
			s.reqlog.add(RequestLogEntry{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: sw.status})
			if s.cfg.logger.Enabled(r.Context(), slog.LevelDebug) {
				s.cfg.logger.Debug("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
					"status", sw.status, "duration", time.Since(start))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// requestLog is a bounded ring of RequestLogEntry.
type requestLog struct {
	mu    sync.Mutex
	limit int
	buf   []RequestLogEntry
	next  int // ring position once full
}

func newRequestLog(limit int) *requestLog { return &requestLog{limit: limit} }

func (l *requestLog) add(e RequestLogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) < l.limit {
		l.buf = append(l.buf, e)
		return
	}
	l.buf[l.next] = e
	l.next = (l.next + 1) % l.limit
}

func (l *requestLog) entries() []RequestLogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]RequestLogEntry, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	return append(out, l.buf[:l.next]...)
}

func (l *requestLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf, l.next = nil, 0
}

// isSCIMPath reports whether path is below the SCIM prefix.
func isSCIMPath(path string) bool {
	return strings.HasPrefix(path, SCIMPathPrefix) &&
		(len(path) == len(SCIMPathPrefix) || path[len(SCIMPathPrefix)] == '/')
}

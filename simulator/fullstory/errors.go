package fullstory

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error codes the simulator answers with. The first group is documented by
// Fullstory; the second group is the simulator's choice where Fullstory
// documents the condition but not the code.
const (
	CodeRequiredField    = "required_field"     // 400
	CodeUnauthorized     = "unauthorized"       // 401
	CodeForbidden        = "forbidden"          // 403
	CodeResourceNotFound = "resource_not_found" // 404 (unknown route)
	CodeUserNotFound     = "user_not_found"     // 404
	CodeTooManyRequests  = "too_many_requests"  // 429
	CodeServerError      = "server_error"       // 500

	CodeInvalidArgument      = "invalid_argument"       // 400: validation, malformed JSON, bad query, bad page token
	CodeIdempotencyKeyReused = "idempotency_key_reused" // 400: same Idempotency-Key, different request
	CodeConflict             = "conflict"               // 409: uid already belongs to another user
	CodeIdempotencyInFlight  = "idempotency_key_in_use" // 409: a request with the same key is still running
	CodeMethodNotAllowed     = "method_not_allowed"     // 405
	CodeRequestTooLarge      = "request_too_large"      // 413
	CodeServiceUnavailable   = "service_unavailable"    // 503 (fault injection)
)

// apiError is the typed error every handler returns; writeError renders it
// as Fullstory's {"code","message"} body.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // sets Retry-After (whole seconds, at least 1) when > 0
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, CodeInvalidArgument, format, args...)
}

var errUserNotFound = &apiError{Status: http.StatusNotFound, Code: CodeUserNotFound, Message: "user not found"}

// writeError renders err as Fullstory's error JSON. Errors that are not
// *apiError become a 500 server_error without leaking their text.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{Status: http.StatusInternalServerError, Code: CodeServerError, Message: "internal server error"}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(ae.RetryAfter)))
	}
	buf := make([]byte, 0, 64+len(ae.Message))
	buf = append(buf, `{"code":`...)
	buf = appendJSONString(buf, ae.Code)
	buf = append(buf, `,"message":`...)
	buf = appendJSONString(buf, ae.Message)
	buf = append(buf, "}\n"...)
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(ae.Status)
	_, _ = w.Write(buf)
}

func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// writeJSONBytes writes an already encoded JSON body with status 200.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

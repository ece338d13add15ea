package fullstory

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// scimType values of RFC 7644 section 3.12 the simulator answers with.
const (
	scimInvalidFilter = "invalidFilter"
	scimUniqueness    = "uniqueness"
	scimMutability    = "mutability"
	scimInvalidSyntax = "invalidSyntax"
	scimInvalidPath   = "invalidPath"
	scimNoTarget      = "noTarget"
	scimInvalidValue  = "invalidValue"
)

// scimError is the typed error SCIM handlers return; writeSCIMError
// renders it in SCIM's error schema.
type scimError struct {
	Status     int
	SCIMType   string // "" when none applies
	Detail     string
	RetryAfter time.Duration
}

func (e *scimError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.SCIMType, e.Detail)
}

func scimErrorf(status int, scimType, format string, args ...any) *scimError {
	return &scimError{Status: status, SCIMType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func errTeammateNotFound(id string) error {
	return scimErrorf(http.StatusNotFound, "", "teammate %q not found", truncate(id, 64))
}

// asSCIMError converts any error: a *scimError as is, an *apiError (body
// limits, injected faults) keeping its status and message, anything else
// a 500 that does not leak its text.
func asSCIMError(err error) *scimError {
	var se *scimError
	if errors.As(err, &se) {
		return se
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return &scimError{Status: ae.Status, Detail: ae.Message, RetryAfter: ae.RetryAfter}
	}
	return &scimError{Status: http.StatusInternalServerError, Detail: "internal server error"}
}

// writeSCIMError renders err as
// {"schemas":[Error],"status":"404","scimType":"...","detail":"..."}; the
// status is a string, as RFC 7644 has it.
func writeSCIMError(w http.ResponseWriter, err error) {
	se := asSCIMError(err)
	h := w.Header()
	if se.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(se.RetryAfter)))
	}
	if se.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="fullstory-simulator SCIM"`)
	}
	buf := make([]byte, 0, 128+len(se.Detail))
	buf = append(buf, `{"schemas":["`+SCIMErrorSchema+`"],"status":"`...)
	buf = strconv.AppendInt(buf, int64(se.Status), 10)
	buf = append(buf, '"')
	if se.SCIMType != "" {
		buf = append(buf, `,"scimType":`...)
		buf = appendJSONString(buf, se.SCIMType)
	}
	buf = append(buf, `,"detail":`...)
	buf = appendJSONString(buf, se.Detail)
	buf = append(buf, "}\n"...)
	writeSCIMBytes(w, se.Status, buf)
}

// writeSCIMBytes writes an encoded SCIM body.
func writeSCIMBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", SCIMContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

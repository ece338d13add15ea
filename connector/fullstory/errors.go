package fullstory

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/conductorone/baton-fullstory/connector/restclient"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error codes Fullstory documents for the v2 API.
const (
	CodeRequiredField    = "required_field"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "resource_not_found"
	CodeUserNotFound     = "user_not_found"
	CodeTooManyRequests  = "too_many_requests"
	CodeServerError      = "server_error"
	CodeInvalidArgument  = "invalid_argument"
	codeUnknownHTTPError = "http_error"
)

// APIError is a non-2xx answer from Fullstory, decoded from its
// {"code","message"} body. It carries a gRPC status so baton-sdk retries
// Unavailable answers and reports rate limits to ConductorOne.
type APIError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // from Retry-After, zero when absent
	// Op names what the connector was doing ("list users").
	Op string
	// Attempts is how many requests were made before giving up.
	Attempts int
	// resetAt is when a rate limit resets, computed once from Retry-After.
	resetAt time.Time
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("baton-fullstory: %s: Fullstory answered %d %s: %s", e.Op, e.Status, e.Code, msg)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	if hint := e.hint(); hint != "" {
		s += ": " + hint
	}
	return s
}

// hint tells an operator what to do about the errors they can fix.
func (e *APIError) hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "Fullstory rejected the API key: check --api-key (BATON_API_KEY)"
	case http.StatusForbidden:
		return "the API key lacks permission: it needs Admin or Architect permission"
	}
	return ""
}

// GRPCCode maps the HTTP status the way baton-sdk's uhttp does, so the SDK's
// retry and reporting logic treats our errors like any connector's.
func (e *APIError) GRPCCode() codes.Code {
	return uhttp.GrpcCodeFromHTTPStatus(e.Status)
}

// GRPCStatus lets status.FromError and status.Code read the error; a 429
// carries a RateLimitDescription so the syncer waits until the reset.
func (e *APIError) GRPCStatus() *status.Status {
	return restclient.Status(e.Status, e.Error(), e.resetAt)
}

// IsNotFound reports whether err is Fullstory's 404.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// IsForbidden reports whether err is Fullstory's 403.
func IsForbidden(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden
}

// SetAttempts records how many requests were made before giving up.
func (e *APIError) SetAttempts(n int) { e.Attempts = n }

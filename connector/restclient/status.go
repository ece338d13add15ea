package restclient

import (
	"net/http"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ResetAt is when a rate limit answered at now lifts: after Retry-After, or
// a second later for a 429 without one. Zero for other answers.
func (r Response) ResetAt(now time.Time) time.Time {
	switch {
	case r.RetryAfter > 0:
		return now.Add(r.RetryAfter)
	case r.Status == http.StatusTooManyRequests:
		return now.Add(time.Second)
	}
	return time.Time{}
}

// Status is the gRPC status of an HTTP answer, mapped the way baton-sdk's
// uhttp maps it; a 429 carries a RateLimitDescription with its reset so the
// SDK's syncer waits until then.
func Status(httpStatus int, msg string, resetAt time.Time) *status.Status {
	st := status.New(uhttp.GrpcCodeFromHTTPStatus(httpStatus), msg)
	if httpStatus != http.StatusTooManyRequests || resetAt.IsZero() {
		return st
	}
	rl := v2.RateLimitDescription_builder{
		Status:  v2.RateLimitDescription_STATUS_OVERLIMIT,
		ResetAt: timestamppb.New(resetAt),
	}.Build()
	if withDetails, err := st.WithDetails(rl); err == nil {
		return withDetails
	}
	return st
}

package fullstory

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Role is the role of a Fullstory API key.
type Role string

// Key roles. Admin and Architect keys may list, get, create, update and
// delete users; a Standard key may create and update but gets 403 on list,
// get and delete.
const (
	RoleAdmin     Role = "admin"
	RoleArchitect Role = "architect"
	RoleStandard  Role = "standard"
)

// ParseRole returns the Role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleArchitect, RoleStandard:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want admin, architect or standard)", s)
}

func (r Role) canRead() bool { return r == RoleAdmin || r == RoleArchitect }

// User is a Fullstory v2 user as the API renders it.
type User struct {
	ID          string         `json:"id"`
	UID         string         `json:"uid,omitempty"`
	DisplayName string         `json:"display_name,omitempty"`
	Email       string         `json:"email,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	// Schema is the declared schema of the user's properties. The API
	// answers it (inferred types overlaid by declared ones) only when
	// asked with include_schema=true; dumps carry what was declared.
	Schema *Schema `json:"schema,omitempty"`
	// TypeConflicts lists properties sent with more than one type.
	TypeConflicts  *TypeConflicts `json:"type_conflicts,omitempty"`
	IsBeingDeleted bool           `json:"is_being_deleted"`
	AppURL         string         `json:"app_url,omitempty"`
}

// Schema maps property names to Fullstory type names ("str", "strs", "int",
// "ints", "real", "reals", "bool", "bools", "date", "dates"); a nested
// object property maps to a nested map of the same form.
type Schema struct {
	Properties map[string]any `json:"properties,omitempty"`
}

// TypeConflicts maps property names to the list of types seen for them.
type TypeConflicts struct {
	Properties map[string]any `json:"properties,omitempty"`
}

// Faults configures fault injection on the Fullstory API routes (never on
// /_simulator/). In JSON: {"latency_ms":20,"rate_limit_rps":10,
// "error_rate":0.05,"drop_rate":0.02}.
type Faults struct {
	// Latency is added before every API request is answered.
	Latency time.Duration
	// RateLimitRPS > 0 enables a token bucket (burst RateLimitRPS,
	// refilled at RateLimitRPS per second of the server's clock); requests
	// beyond it get 429 too_many_requests with Retry-After.
	RateLimitRPS int
	// ErrorRate is the share of requests answered 500 server_error or
	// 503 service_unavailable (half each) instead of being served.
	ErrorRate float64
	// DropRate is the share of requests whose connection is closed
	// without any answer.
	DropRate float64
}

type faultsJSON struct {
	LatencyMS    float64 `json:"latency_ms"`
	RateLimitRPS int     `json:"rate_limit_rps"`
	ErrorRate    float64 `json:"error_rate"`
	DropRate     float64 `json:"drop_rate"`
}

// MarshalJSON renders f with latency in milliseconds.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		LatencyMS:    float64(f.Latency) / float64(time.Millisecond),
		RateLimitRPS: f.RateLimitRPS,
		ErrorRate:    f.ErrorRate,
		DropRate:     f.DropRate,
	})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	v, err := j.faults()
	if err != nil {
		return err
	}
	*f = v
	return nil
}

func (j faultsJSON) faults() (Faults, error) {
	if math.IsNaN(j.LatencyMS) || j.LatencyMS < 0 || j.LatencyMS > float64(time.Hour/time.Millisecond) {
		return Faults{}, fmt.Errorf("latency_ms must be between 0 and %d", time.Hour/time.Millisecond)
	}
	return Faults{
		Latency:      time.Duration(j.LatencyMS * float64(time.Millisecond)),
		RateLimitRPS: j.RateLimitRPS,
		ErrorRate:    j.ErrorRate,
		DropRate:     j.DropRate,
	}, nil
}

// Validate reports whether f is usable.
func (f Faults) Validate() error {
	switch {
	case f.Latency < 0:
		return fmt.Errorf("latency must not be negative")
	case f.Latency > time.Hour:
		return fmt.Errorf("latency must be at most 1h")
	case f.RateLimitRPS < 0:
		return fmt.Errorf("rate_limit_rps must not be negative")
	case !(f.ErrorRate >= 0 && f.ErrorRate <= 1):
		return fmt.Errorf("error_rate must be between 0 and 1")
	case !(f.DropRate >= 0 && f.DropRate <= 1):
		return fmt.Errorf("drop_rate must be between 0 and 1")
	case f.ErrorRate+f.DropRate > 1:
		return fmt.Errorf("error_rate + drop_rate must be at most 1")
	}
	return nil
}

// RequestLogEntry is one API request as the simulator saw it. Status 0
// means the connection was dropped by fault injection.
type RequestLogEntry struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Status int    `json:"status"`
}

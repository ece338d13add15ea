package fullstory

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFaultLatency(t *testing.T) {
	e := newEnv(t, WithFaults(Faults{Latency: 80 * time.Millisecond}))
	start := time.Now()
	e.must(200, req{method: "GET", path: "/v2/users", key: adminKey})
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("API request took %v, want at least 80ms", d)
	}
	// Admin routes are never delayed; allow generous slack for a busy box.
	start = time.Now()
	e.must(200, req{method: "GET", path: "/_simulator/healthz"})
	e.must(200, req{method: "GET", path: "/_simulator/users"})
	if d := time.Since(start); d >= 160*time.Millisecond {
		t.Errorf("two admin requests took %v; they must not be delayed", d)
	}
}

func TestFaultRateLimit(t *testing.T) {
	e := newEnv(t, WithFaults(Faults{RateLimitRPS: 3}))
	get := req{method: "GET", path: "/v2/users", key: adminKey}
	for i := range 3 {
		if r := e.do(get); r.Status != 200 {
			t.Fatalf("request %d: status %d, want 200", i, r.Status)
		}
	}
	r := e.must(429, get)
	if code := r.apiError(t).Code; code != CodeTooManyRequests {
		t.Errorf("code %q, want %q", code, CodeTooManyRequests)
	}
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want \"1\"", got)
	}
	// Admin routes are not limited.
	e.must(200, req{method: "GET", path: "/_simulator/requests"})
	// A third of a second refills one token at 3 rps.
	e.clock.Advance(time.Second/3 + time.Millisecond)
	e.must(200, get)
	e.must(429, get)
	e.clock.Advance(time.Second)
	for range 3 {
		e.must(200, get)
	}
	e.must(429, get)

	var statuses []int
	for _, l := range e.sim.Requests() {
		statuses = append(statuses, l.Status)
	}
	want := []int{200, 200, 200, 429, 200, 429, 200, 200, 200, 429}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("logged statuses (-want +got):\n%s", diff)
	}
}

func TestFaultErrors(t *testing.T) {
	e := newEnv(t, WithFaults(Faults{ErrorRate: 1}))
	seen := map[int]bool{}
	for range 30 {
		r := e.do(req{method: "GET", path: "/v2/users", key: adminKey})
		seen[r.Status] = true
		switch r.Status {
		case 500:
			if code := r.apiError(t).Code; code != CodeServerError {
				t.Errorf("500 code %q, want %q", code, CodeServerError)
			}
		case 503:
			if code := r.apiError(t).Code; code != CodeServiceUnavailable {
				t.Errorf("503 code %q, want %q", code, CodeServiceUnavailable)
			}
			if r.Header.Get("Retry-After") != "1" {
				t.Errorf("503 without Retry-After: %v", r.Header)
			}
		default:
			t.Fatalf("status %d with error rate 1", r.Status)
		}
	}
	if !seen[500] || !seen[503] {
		t.Errorf("statuses seen %v, want both 500 and 503", seen)
	}
	e.must(200, req{method: "GET", path: "/_simulator/users"})
	e.must(200, req{method: "GET", path: "/_simulator/healthz"})
	// A faulted POST is not stored under its Idempotency-Key.
	post := req{method: "POST", path: "/v2/users", key: adminKey, body: `{"uid":"f"}`, headers: map[string]string{"Idempotency-Key": "f1"}}
	if s := e.do(post).Status; s < 500 {
		t.Fatalf("POST under error rate 1: %d", s)
	}
	e.sim.SetFaults(Faults{})
	e.must(200, post)
	if n := len(e.sim.Users()); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

func TestFaultDrop(t *testing.T) {
	e := newEnv(t, WithFaults(Faults{DropRate: 1}))
	resp, err := e.srv.Client().Get(e.srv.URL + "/v2/users")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("dropped request answered %d %s", resp.StatusCode, b)
	}
	e.must(200, req{method: "GET", path: "/_simulator/healthz"})
	want := []RequestLogEntry{{Method: "GET", Path: "/v2/users", Status: 0}}
	got := waitRequests(t, e.sim, 1)
	// The client may retry an idempotent request on a fresh connection.
	if len(got) == 0 || len(got) > 2 {
		t.Fatalf("request log %+v, want one or two dropped entries", got)
	}
	if diff := cmp.Diff(want, got[:1]); diff != "" {
		t.Errorf("request log (-want +got):\n%s", diff)
	}
}

// statusSequence sends n list requests and returns their statuses.
func statusSequence(t *testing.T, e *env, n int) []int {
	var out []int
	for range n {
		out = append(out, e.do(req{method: "GET", path: "/v2/users", key: adminKey}).Status)
	}
	return out
}

func TestFaultsDeterministic(t *testing.T) {
	f := Faults{ErrorRate: 0.5}
	a := statusSequence(t, newEnv(t, WithSeed(7), WithFaults(f)), 40)
	b := statusSequence(t, newEnv(t, WithSeed(7), WithFaults(f)), 40)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different fault sequence (-a +b):\n%s", diff)
	}
	ok, failed := 0, 0
	for _, s := range a {
		if s == 200 {
			ok++
		} else {
			failed++
		}
	}
	if ok == 0 || failed == 0 {
		t.Errorf("error rate 0.5 gave %d ok and %d failed of 40", ok, failed)
	}
}

func TestFaultsAdminRoute(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, req{method: "GET", path: "/_simulator/faults"})
	if got, want := compactJSON(t, r.Body), `{"latency_ms":0,"rate_limit_rps":0,"error_rate":0,"drop_rate":0}`; got != want {
		t.Errorf("GET faults = %s, want %s", got, want)
	}
	r = e.must(200, req{method: "PUT", path: "/_simulator/faults", body: `{"latency_ms":5,"rate_limit_rps":10,"error_rate":0.25,"drop_rate":0.5}`})
	if got, want := compactJSON(t, r.Body), `{"latency_ms":5,"rate_limit_rps":10,"error_rate":0.25,"drop_rate":0.5}`; got != want {
		t.Errorf("PUT faults = %s, want %s", got, want)
	}
	if diff := cmp.Diff(Faults{Latency: 5 * time.Millisecond, RateLimitRPS: 10, ErrorRate: 0.25, DropRate: 0.5}, e.sim.Faults()); diff != "" {
		t.Errorf("Faults() (-want +got):\n%s", diff)
	}
	for _, body := range []string{
		`{"error_rate":2}`, `{"drop_rate":-0.1}`, `{"rate_limit_rps":-1}`, `{"latency_ms":-5}`,
		`{"error_rate":0.6,"drop_rate":0.6}`, `{"latency":5}`, `{`, `[]`,
	} {
		r := e.must(400, req{method: "PUT", path: "/_simulator/faults", body: body})
		if code := r.apiError(t).Code; code != CodeInvalidArgument {
			t.Errorf("PUT %s: code %q, want %q", body, code, CodeInvalidArgument)
		}
	}
	// Turning error rate to 1 at run time takes effect on the next request.
	e.must(200, req{method: "PUT", path: "/_simulator/faults", body: `{"error_rate":1}`})
	if s := e.do(req{method: "GET", path: "/v2/users", key: adminKey}).Status; s != 500 && s != 503 {
		t.Errorf("status %d after error_rate 1, want 500 or 503", s)
	}
	e.must(200, req{method: "PUT", path: "/_simulator/faults", body: `{}`})
	e.must(200, req{method: "GET", path: "/v2/users", key: adminKey})

	// SetFaults clamps out-of-range values.
	e.sim.SetFaults(Faults{Latency: -1, RateLimitRPS: -3, ErrorRate: 7, DropRate: -2})
	if diff := cmp.Diff(Faults{ErrorRate: 1}, e.sim.Faults()); diff != "" {
		t.Errorf("clamped faults (-want +got):\n%s", diff)
	}
	if _, err := New(WithFaults(Faults{DropRate: 3})); err == nil || !strings.Contains(err.Error(), "drop_rate") {
		t.Errorf("New with drop rate 3: %v, want a drop_rate error", err)
	}
}

func TestFaultsOverTLSDrop(t *testing.T) {
	// On HTTP/2 the connection cannot be hijacked; the stream is aborted.
	sim, err := New(WithFaults(Faults{DropRate: 1}))
	if err != nil {
		t.Fatal(err)
	}
	srv := newTLSServer(t, sim)
	resp, err := srv.Client().Get(srv.URL + "/v2/users")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d (proto %s)", resp.StatusCode, resp.Proto)
	}
	resp, err = srv.Client().Get(srv.URL + "/_simulator/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz %d", resp.StatusCode)
	}
}

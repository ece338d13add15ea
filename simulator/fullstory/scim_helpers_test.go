package fullstory

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	scimToken  = "scim-token-1"
	scimToken2 = "scim-token-2"
)

// newSCIMEnv is newEnv with two SCIM tokens configured.
func newSCIMEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	return newEnv(t, append([]Option{WithSCIMToken(scimToken), WithSCIMToken(scimToken2)}, opts...)...)
}

type scimReq struct {
	method string
	path   string // with query
	auth   string // whole Authorization header; "-" sends none; "" sends Bearer scimToken
	body   string
	// contentType is the request's Content-Type when there is a body;
	// "" sends application/scim+json, "-" sends none.
	contentType string
}

// scim performs r over the loopback listener and checks what every SCIM
// answer must satisfy: application/scim+json and a JSON body, except 204
// which has no body.
func (e *env) scim(r scimReq) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	switch r.auth {
	case "-":
	case "":
		hr.Header.Set("Authorization", "Bearer "+scimToken)
	default:
		hr.Header.Set("Authorization", r.auth)
	}
	if r.body != "" {
		switch r.contentType {
		case "-":
		case "":
			hr.Header.Set("Content-Type", SCIMContentType)
		default:
			hr.Header.Set("Content-Type", r.contentType)
		}
	}
	resp, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("reading body: %v", err)
	}
	if resp.StatusCode == http.StatusNoContent {
		if len(b) != 0 {
			e.t.Errorf("%s %s: 204 with body %q", r.method, r.path, b)
		}
	} else {
		if ct := resp.Header.Get("Content-Type"); ct != SCIMContentType {
			e.t.Errorf("%s %s: Content-Type %q, want %s", r.method, r.path, ct, SCIMContentType)
		}
		if !json.Valid(b) {
			e.t.Errorf("%s %s: body is not JSON: %q", r.method, r.path, b)
		}
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (e *env) scimMust(want int, r scimReq) response {
	e.t.Helper()
	resp := e.scim(r)
	if resp.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, resp.Status, want, resp.Body)
	}
	return resp
}

// scimErr is SCIM's error body.
type scimErr struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	SCIMType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// checkSCIMError checks that r is a SCIM error with status and scimType
// (and, when detail is not empty, that detail) and returns it.
func checkSCIMError(t *testing.T, r response, status int, scimType, detail string) scimErr {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	var got scimErr
	r.json(t, &got)
	if got.Detail == "" {
		t.Errorf("error body %s has no detail", r.Body)
	}
	want := scimErr{Schemas: []string{SCIMErrorSchema}, Status: strconv.Itoa(status), SCIMType: scimType, Detail: got.Detail}
	if detail != "" {
		want.Detail = detail
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error body (-want +got):\n%s", diff)
	}
	return got
}

type scimList struct {
	Schemas      []string   `json:"schemas"`
	TotalResults int        `json:"totalResults"`
	StartIndex   int        `json:"startIndex"`
	ItemsPerPage int        `json:"itemsPerPage"`
	Resources    []Teammate `json:"Resources"`
}

func (e *env) scimList(query string) scimList {
	e.t.Helper()
	var l scimList
	e.scimMust(200, scimReq{method: "GET", path: "/scim/v2/Users" + query}).json(e.t, &l)
	return l
}

func (e *env) scimCreate(body string) Teammate {
	e.t.Helper()
	var tm Teammate
	e.scimMust(201, scimReq{method: "POST", path: "/scim/v2/Users", body: body}).json(e.t, &tm)
	return tm
}

// mustPut stores t with PutTeammate.
func mustPut(t *testing.T, sim *Server, tm Teammate) Teammate {
	t.Helper()
	got, err := sim.PutTeammate(tm)
	if err != nil {
		t.Fatalf("PutTeammate(%+v): %v", tm, err)
	}
	return got
}

func teammateIDs(ts []Teammate) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

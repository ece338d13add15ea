//go:build !consumer && !provider

// Plain `go test ./contracts/...` (no tags, no cgo) runs this file only.

package contracts

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	"github.com/conductorone/baton-fullstory/connector/restclient"
	"github.com/conductorone/baton-fullstory/connector/scim"
)

// coverage names one client and the pact file its requests must appear in.
type coverage struct {
	name     string // how errors name the type: "*fullstory.Client"
	pactFile string
	consumer string
	provider string
	basePath string // appended to the recording server's URL
	// newClient builds the client against baseURL with hc, one attempt
	// per call and no waits.
	newClient func(ctx context.Context, baseURL string, hc *http.Client) (any, error)
	// notRequests are the exported methods that send no request. A new
	// method must be added here or get an interaction.
	notRequests map[string]bool
	// known are methods that exist today: guards the reflection itself.
	known []string
}

var coverages = []coverage{
	{
		name: "*fullstory.Client", pactFile: pactFileName, consumer: consumerName, provider: providerName,
		newClient: func(ctx context.Context, baseURL string, hc *http.Client) (any, error) {
			return fullstory.NewClient(ctx, baseURL, "coverage-key",
				fullstory.WithHTTPClient(hc),
				fullstory.WithRetryPolicy(fullstory.RetryPolicy{MaxAttempts: 1}),
				fullstory.WithSleep(func(context.Context, time.Duration) error { return nil }))
		},
		notRequests: map[string]bool{"Stats": true},
		known:       []string{"CreateUser", "DeleteUser", "GetUser", "ListUsers", "UpdateUser"},
	},
	{
		name: "*scim.Client", pactFile: scimPactFileName, consumer: scimConsumerName, provider: scimProviderName,
		basePath: scimBasePath,
		newClient: func(ctx context.Context, baseURL string, hc *http.Client) (any, error) {
			return scim.NewClient(ctx, baseURL, "coverage-token",
				restclient.WithHTTPClient(hc),
				restclient.WithRetryPolicy(restclient.RetryPolicy{MaxAttempts: 1}),
				restclient.WithSleep(func(context.Context, time.Duration) error { return nil }))
		},
		notRequests: map[string]bool{"Stats": true},
		known:       []string{"CreateUser", "FindByUserName", "GetUser", "ListUsers", "SetActive"},
	},
}

// sampleArg is the string every string argument gets, so the request path
// shows where an argument went.
const sampleArg = "sample-arg"

type sentRequest struct {
	Method, Path string
	Query        []string // the names of the query parameters, sorted
}

// TestEveryClientRequestHasAnInteraction calls each exported method of
// *fullstory.Client and *scim.Client (found by reflection) against a
// recording server, then requires an interaction in the client's committed
// pact file with the same HTTP method, a path of the same shape (an
// argument's segment matches any segment) and the same query parameter
// names (SCIM's list and filter share GET /Users and differ only there).
func TestEveryClientRequestHasAnInteraction(t *testing.T) {
	for _, c := range coverages {
		t.Run(c.name, func(t *testing.T) { checkCoverage(t, c) })
	}
}

func checkCoverage(t *testing.T, c coverage) {
	pact, err := readPactFile(filepath.Join(committedPactDir, c.pactFile))
	if err != nil {
		t.Fatalf("read committed pact file: %v", err)
	}
	if pact.Consumer.Name != c.consumer || pact.Provider.Name != c.provider {
		t.Fatalf("pact between %q and %q, want %q and %q", pact.Consumer.Name, pact.Provider.Name, c.consumer, c.provider)
	}

	var mu sync.Mutex
	var sent []sentRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, sentRequest{Method: r.Method, Path: r.URL.Path, Query: queryNames(r.URL.Query())})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"` + sampleArg + `","results":[],"total_records":"0"}`))
	}))
	t.Cleanup(srv.Close)

	ctx := context.Background()
	client, err := c.newClient(ctx, srv.URL+c.basePath, srv.Client())
	if err != nil {
		t.Fatal(err)
	}

	ctxType := reflect.TypeFor[context.Context]()
	cv := reflect.ValueOf(client)
	ct := cv.Type()
	var checked []string
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		mt := m.Type // includes the receiver
		if mt.NumIn() < 2 || mt.In(1) != ctxType {
			if !c.notRequests[m.Name] {
				t.Errorf("(%s).%s takes no context.Context first: if it sends a request, teach this test to call it; if not, add it to notRequests", c.name, m.Name)
			}
			continue
		}
		if c.notRequests[m.Name] {
			t.Errorf("(%s).%s is listed in notRequests but takes a context.Context", c.name, m.Name)
		}
		args := []reflect.Value{cv, reflect.ValueOf(ctx)}
		for j := 2; j < mt.NumIn(); j++ {
			args = append(args, sampleValue(mt.In(j)))
		}
		mu.Lock()
		before := len(sent)
		mu.Unlock()
		m.Func.Call(args) // answers and errors do not matter, only the request
		mu.Lock()
		reqs := append([]sentRequest(nil), sent[before:]...)
		mu.Unlock()
		if len(reqs) == 0 {
			t.Errorf("(%s).%s sent no request with sample arguments; teach this test its arguments", c.name, m.Name)
			continue
		}
		for _, r := range reqs {
			if d := matchingInteraction(pact, r); d == "" {
				t.Errorf("(%s).%s sends %s %s with query parameters %v, and no interaction in %s has that method, path shape and query parameter names: add a consumer test (contracts/consumer*_test.go) and regenerate with `make contracts`",
					c.name, m.Name, r.Method, r.Path, r.Query, c.pactFile)
			} else {
				t.Logf("%s: %s %s %v is covered by %q", m.Name, r.Method, r.Path, r.Query, d)
			}
		}
		checked = append(checked, m.Name)
	}
	sort.Strings(checked)
	for _, name := range c.known {
		if _, found := sort.Find(len(checked), func(i int) int { return strings.Compare(name, checked[i]) }); !found {
			t.Errorf("(%s).%s was not checked (checked: %v)", c.name, name, checked)
		}
	}
}

func queryNames(q map[string][]string) []string {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// sampleValue is a non-zero value of t where that is easy: strings are
// sampleArg (ids must be non-empty), everything else is zero.
func sampleValue(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	if t.Kind() == reflect.String {
		v.SetString(sampleArg)
	}
	return v
}

// matchingInteraction returns the description of an interaction with r's
// method and query parameter names whose path equals r's path once
// sampleArg segments are wildcards.
func matchingInteraction(pact *pactFile, r sentRequest) string {
	segments := strings.Split(r.Path, "/")
	for i, s := range segments {
		if s == sampleArg {
			segments[i] = "[^/]+"
		} else {
			segments[i] = regexp.QuoteMeta(s)
		}
	}
	re := regexp.MustCompile("^" + strings.Join(segments, "/") + "$")
	for _, i := range pact.Interactions {
		if i.Request.Method == r.Method && re.MatchString(i.Request.Path) &&
			slices.Equal(queryNames(i.Request.Query), r.Query) {
			return i.Description
		}
	}
	return ""
}

// TestMatchingInteraction keeps the coverage check from passing vacuously:
// a request matches only an interaction with its method and path shape.
func TestMatchingInteraction(t *testing.T) {
	pact := &pactFile{}
	for _, r := range []sentRequest{
		{"GET", "/v2/users", nil},
		{"POST", "/v2/users/123", nil},
		{"GET", "/scim/v2/Users", []string{"count", "startIndex"}},
		{"GET", "/scim/v2/Users", []string{"filter"}},
	} {
		var i pactInteraction
		i.Description = fmt.Sprint(r.Method, " ", r.Path, " ", r.Query)
		i.Request.Method, i.Request.Path = r.Method, r.Path
		if r.Query != nil {
			i.Request.Query = map[string][]string{}
			for _, k := range r.Query {
				i.Request.Query[k] = []string{"x"}
			}
		}
		pact.Interactions = append(pact.Interactions, i)
	}
	tests := []struct {
		sent sentRequest
		want string
	}{
		{sentRequest{"GET", "/v2/users", nil}, "GET /v2/users []"},
		{sentRequest{"POST", "/v2/users/" + sampleArg, nil}, "POST /v2/users/123 []"},
		{sentRequest{"DELETE", "/v2/users/" + sampleArg, nil}, ""}, // other method
		{sentRequest{"GET", "/v2/users/" + sampleArg, nil}, ""},    // other path shape
		{sentRequest{"POST", "/v2/users", nil}, ""},
		{sentRequest{"POST", "/v2/users/" + sampleArg + "/x", nil}, ""},
		{sentRequest{"GET", "/v2/users", []string{"page_token"}}, ""}, // other query names
		{sentRequest{"GET", "/scim/v2/Users", []string{"count", "startIndex"}}, "GET /scim/v2/Users [count startIndex]"},
		{sentRequest{"GET", "/scim/v2/Users", []string{"filter"}}, "GET /scim/v2/Users [filter]"},
		{sentRequest{"GET", "/scim/v2/Users", nil}, ""},
		{sentRequest{"GET", "/scim/v2/Users", []string{"count", "filter", "startIndex"}}, ""},
	}
	for _, tt := range tests {
		if got := matchingInteraction(pact, tt.sent); got != tt.want {
			t.Errorf("matchingInteraction(%s %s %v) = %q, want %q", tt.sent.Method, tt.sent.Path, tt.sent.Query, got, tt.want)
		}
	}
}

//go:build !consumer && !provider

// Plain `go test ./contracts/...` (no tags, no cgo) runs this file only.

package contracts

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
)

// notRequests are the exported methods of *fullstory.Client that send no
// request. A new method must be added here or get an interaction.
var notRequests = map[string]bool{
	"Stats": true,
}

// sampleArg is the string every string argument gets, so the request path
// shows where an argument went.
const sampleArg = "sample-arg"

type sentRequest struct{ Method, Path string }

// TestEveryClientRequestHasAnInteraction calls each exported method of
// *fullstory.Client (found by reflection) against a recording server,
// then requires an interaction in the committed pact file with the same
// HTTP method and a path of the same shape (an argument's segment matches
// any segment).
func TestEveryClientRequestHasAnInteraction(t *testing.T) {
	pact, err := readPactFile(filepath.Join(committedPactDir, pactFileName))
	if err != nil {
		t.Fatalf("read committed pact file: %v", err)
	}
	if pact.Consumer.Name != consumerName || pact.Provider.Name != providerName {
		t.Fatalf("pact between %q and %q, want %q and %q", pact.Consumer.Name, pact.Provider.Name, consumerName, providerName)
	}

	var mu sync.Mutex
	var sent []sentRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, sentRequest{Method: r.Method, Path: r.URL.Path})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"` + sampleArg + `","results":[],"total_records":"0"}`))
	}))
	t.Cleanup(srv.Close)

	ctx := context.Background()
	client, err := fullstory.NewClient(ctx, srv.URL, "coverage-key",
		fullstory.WithHTTPClient(srv.Client()),
		fullstory.WithRetryPolicy(fullstory.RetryPolicy{MaxAttempts: 1}),
		fullstory.WithSleep(func(context.Context, time.Duration) error { return nil }))
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
			if !notRequests[m.Name] {
				t.Errorf("(*fullstory.Client).%s takes no context.Context first: if it sends a request, teach this test to call it; if not, add it to notRequests", m.Name)
			}
			continue
		}
		if notRequests[m.Name] {
			t.Errorf("(*fullstory.Client).%s is listed in notRequests but takes a context.Context", m.Name)
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
			t.Errorf("(*fullstory.Client).%s sent no request with sample arguments; teach this test its arguments", m.Name)
			continue
		}
		for _, r := range reqs {
			if d := matchingInteraction(pact, r); d == "" {
				t.Errorf("(*fullstory.Client).%s sends %s %s, and no interaction in %s has that method and path shape: add a consumer test (contracts/consumer_test.go) and regenerate with `make contracts`",
					m.Name, r.Method, r.Path, pactFileName)
			} else {
				t.Logf("%s: %s %s is covered by %q", m.Name, r.Method, r.Path, d)
			}
		}
		checked = append(checked, m.Name)
	}
	sort.Strings(checked)
	// Guard the reflection itself: these methods exist today.
	for _, name := range []string{"CreateUser", "DeleteUser", "GetUser", "ListUsers", "UpdateUser"} {
		if _, found := sort.Find(len(checked), func(i int) int { return strings.Compare(name, checked[i]) }); !found {
			t.Errorf("(*fullstory.Client).%s was not checked (checked: %v)", name, checked)
		}
	}
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
// method whose path equals r's path once sampleArg segments are wildcards.
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
		if i.Request.Method == r.Method && re.MatchString(i.Request.Path) {
			return i.Description
		}
	}
	return ""
}

// TestMatchingInteraction keeps the coverage check from passing vacuously:
// a request matches only an interaction with its method and path shape.
func TestMatchingInteraction(t *testing.T) {
	pact := &pactFile{}
	for _, r := range []sentRequest{{"GET", "/v2/users"}, {"POST", "/v2/users/123"}} {
		var i pactInteraction
		i.Description = r.Method + " " + r.Path
		i.Request.Method, i.Request.Path = r.Method, r.Path
		pact.Interactions = append(pact.Interactions, i)
	}
	tests := []struct {
		sent sentRequest
		want string
	}{
		{sentRequest{"GET", "/v2/users"}, "GET /v2/users"},
		{sentRequest{"POST", "/v2/users/" + sampleArg}, "POST /v2/users/123"},
		{sentRequest{"DELETE", "/v2/users/" + sampleArg}, ""}, // other method
		{sentRequest{"GET", "/v2/users/" + sampleArg}, ""},    // other path shape
		{sentRequest{"POST", "/v2/users"}, ""},
		{sentRequest{"POST", "/v2/users/" + sampleArg + "/x"}, ""},
	}
	for _, tt := range tests {
		if got := matchingInteraction(pact, tt.sent); got != tt.want {
			t.Errorf("matchingInteraction(%s %s) = %q, want %q", tt.sent.Method, tt.sent.Path, got, tt.want)
		}
	}
}

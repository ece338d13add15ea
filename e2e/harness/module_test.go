package harness

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/testcontainers/testcontainers-go"
)

type testSettings struct{ applied []string }

type testOption func(*testSettings) error

func (testOption) Customize(*testcontainers.GenericContainerRequest) error { return nil }

func record(name string) testOption {
	return func(s *testSettings) error { s.applied = append(s.applied, name); return nil }
}

// recordReq is a customizer of another kind, as testcontainers' own are.
func recordReq(name string, got *[]string) testcontainers.CustomizeRequestOption {
	return func(*testcontainers.GenericContainerRequest) error { *got = append(*got, name); return nil }
}

func TestApplyOptions(t *testing.T) {
	var reqs []string
	opts := []testcontainers.ContainerCustomizer{
		record("a"),
		recordReq("r1", &reqs),
		Multi{record("b"), recordReq("r2", &reqs), Multi{record("c")}},
		record("d"),
	}
	var s testSettings
	if err := ApplyOptions[testOption](&s, opts); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d"}, s.applied); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if len(reqs) != 0 {
		t.Errorf("ApplyOptions ran request customizers %v", reqs)
	}

	// testcontainers.Run customizes the request with every option; a Multi
	// passes the request to each of its members.
	var req testcontainers.GenericContainerRequest
	for _, o := range opts {
		if err := o.Customize(&req); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"r1", "r2"}, reqs); diff != "" {
		t.Errorf("request customizers (-want +got):\n%s", diff)
	}
}

func TestApplyOptionsStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	opts := []testcontainers.ContainerCustomizer{
		record("a"),
		Multi{testOption(func(*testSettings) error { return boom }), record("b")},
		record("c"),
	}
	var s testSettings
	if err := ApplyOptions[testOption](&s, opts); !errors.Is(err, boom) {
		t.Fatalf("ApplyOptions = %v, want %v", err, boom)
	}
	if diff := cmp.Diff([]string{"a"}, s.applied); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}

	var reqs []string
	m := Multi{
		recordReq("r1", &reqs),
		testcontainers.CustomizeRequestOption(func(*testcontainers.GenericContainerRequest) error { return boom }),
		recordReq("r2", &reqs),
	}
	if err := m.Customize(&testcontainers.GenericContainerRequest{}); !errors.Is(err, boom) {
		t.Fatalf("Multi.Customize = %v, want %v", err, boom)
	}
	if diff := cmp.Diff([]string{"r1"}, reqs); diff != "" {
		t.Errorf("request customizers (-want +got):\n%s", diff)
	}
}

// seen is what the admin server received.
type seen struct {
	Method, Path, ContentType, Authorization, Body string
}

func adminServer(t *testing.T, status int, answer string) (*httptest.Server, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got = append(got, seen{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)})
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func adminClient(srv *httptest.Server, token string) AdminClient {
	return AdminClient{
		Name:    "sim",
		BaseURL: func(context.Context) (string, error) { return srv.URL, nil },
		Token:   token,
		HTTP:    srv.Client(),
	}
}

func TestAdminClientJSON(t *testing.T) {
	srv, got := adminServer(t, http.StatusOK, `{"id":"t1","n":3}`)
	var out struct {
		ID string `json:"id"`
		N  int    `json:"n"`
	}
	in := map[string]any{"type": "full_sync"}
	if err := adminClient(srv, "tok").Do(context.Background(), http.MethodPost, "/admin/tasks?x=1", in, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "t1" || out.N != 3 {
		t.Errorf("decoded %+v, want {ID:t1 N:3}", out)
	}
	want := []seen{{http.MethodPost, "/admin/tasks?x=1", "application/json", "Bearer tok", `{"type":"full_sync"}`}}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestAdminClientRawAndNil(t *testing.T) {
	srv, got := adminServer(t, http.StatusOK, "\x00raw bytes")
	var raw []byte
	if err := adminClient(srv, "").Do(context.Background(), http.MethodGet, "/upload", nil, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw) != "\x00raw bytes" {
		t.Errorf("raw body %q", raw)
	}
	// nil out: the body is not decoded (it is not JSON here).
	if err := adminClient(srv, "").Do(context.Background(), http.MethodDelete, "/requests", nil, nil); err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{Method: http.MethodGet, Path: "/upload"},
		{Method: http.MethodDelete, Path: "/requests"},
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("requests (no body, no content type, no token) (-want +got):\n%s", diff)
	}
}

func TestAdminClientErrors(t *testing.T) {
	ctx := context.Background()
	srv, _ := adminServer(t, http.StatusNotFound, "  no such task\n")
	err := adminClient(srv, "").Do(ctx, http.MethodGet, "/admin/tasks/x", nil, nil)
	if err == nil || err.Error() != "sim: GET /admin/tasks/x: status 404: no such task" {
		t.Errorf("404: error %v", err)
	}

	srv, _ = adminServer(t, http.StatusOK, "")
	var out []string
	err = adminClient(srv, "").Do(ctx, http.MethodGet, "/users", nil, &out)
	if err == nil || err.Error() != "sim: decode GET /users: unexpected end of JSON input" {
		t.Errorf("empty body into a JSON target: error %v", err)
	}

	err = adminClient(srv, "").Do(ctx, http.MethodPut, "/faults", func() {}, nil)
	if err == nil || err.Error() != "sim: encode PUT /faults: json: unsupported type: func()" {
		t.Errorf("unencodable body: error %v", err)
	}

	noURL := errors.New("no mapped port")
	c := adminClient(srv, "")
	c.BaseURL = func(context.Context) (string, error) { return "", noURL }
	if err := c.Do(ctx, http.MethodGet, "/users", nil, &out); !errors.Is(err, noURL) {
		t.Errorf("base URL failure: error %v, want %v", err, noURL)
	}
}

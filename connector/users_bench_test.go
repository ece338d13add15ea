package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"google.golang.org/protobuf/proto"
)

// benchUsers are n users shaped like the simulator's identified users.
func benchUsers(n int) []fullstory.User {
	users := make([]fullstory.User, n)
	for i := range users {
		id := fmt.Sprintf("10512163792008%05d", i)
		users[i] = fullstory.User{
			ID:          id,
			UID:         fmt.Sprintf("usr_%016x", i*7919),
			DisplayName: fmt.Sprintf("Radia Liskov %d", i),
			Email:       fmt.Sprintf("radia.liskov.%d@example.net", i),
			Properties: map[string]any{
				"beta_tester":    i%2 == 0,
				"company":        map[string]any{"industry": "retail", "name": "Hooli Inc", "size": float64(4060)},
				"country":        "JP",
				"lifetime_value": 3060.4,
				"plan":           "free",
				"roles":          []any{"editor", "billing"},
				"seats":          float64(125),
				"signup_date":    "2023-03-24T01:00:00Z",
			},
			AppURL: "https://app.fullstory.com/ui/o-SIM-na1/people/u/" + id,
		}
	}
	return users
}

// BenchmarkUserResource turns a page of 100 users into baton resources and
// reports the wire size of one resource, which is what the syncer stores.
func BenchmarkUserResource(b *testing.B) {
	users := benchUsers(100)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		size = 0
		for i := range users {
			r, err := userResource(&users[i])
			if err != nil {
				b.Fatal(err)
			}
			size += proto.Size(r)
		}
	}
	b.ReportMetric(float64(size)/float64(len(users)), "proto-B/user")
}

// BenchmarkListPage is the work of one List call of the user syncer (without
// fetching ahead): an HTTP page of 100 users over loopback, decoded and
// turned into resources. It reports the size of the gRPC response baton
// sends to its syncer.
func BenchmarkListPage(b *testing.B) {
	users := benchUsers(100)
	body, err := json.Marshal(map[string]any{"results": users, "total_records": "100000", "next_page_token": "next"})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := New(context.Background(), Options{APIKey: "bench-key", BaseURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	ub := newUserBuilder(c.client, false)
	token := pageState{Token: "prev", Page: 7, Seen: []uint64{1, 2, 3}}.encode()
	var wire int
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p := ub.listPage(context.Background(), token)
		if p.err != nil {
			b.Fatal(p.err)
		}
		if len(p.resources) != 100 || p.next == "" {
			b.Fatalf("got %d resources and token %q, want 100 and a token", len(p.resources), p.next)
		}
		wire = proto.Size(v2.ResourcesServiceListResourcesResponse_builder{List: p.resources, NextPageToken: p.next}.Build())
	}
	b.ReportMetric(float64(wire), "resp-B/page")
}

package fullstory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchPage is a list page shaped like Fullstory's (and the simulator's):
// n identified users with about eight properties each, a nested object
// and a list among them.
func benchPage(n int, next string) []byte {
	users := make([]map[string]any, n)
	for i := range users {
		id := fmt.Sprintf("10512163792008%05d", i)
		users[i] = map[string]any{
			"id":           id,
			"uid":          fmt.Sprintf("usr_%016x", i*7919),
			"display_name": fmt.Sprintf("Radia Liskov %d", i),
			"email":        fmt.Sprintf("radia.liskov.%d@example.net", i),
			"properties": map[string]any{
				"beta_tester":    i%2 == 0,
				"company":        map[string]any{"industry": "retail", "name": "Hooli Inc", "size": 4060},
				"country":        "JP",
				"lifetime_value": 3060.4,
				"plan":           "free",
				"roles":          []any{"editor", "billing"},
				"seats":          125,
				"signup_date":    "2023-03-24T01:00:00Z",
			},
			"is_being_deleted": false,
			"app_url":          "https://app.fullstory.com/ui/o-SIM-na1/people/u/" + id,
		}
	}
	page := map[string]any{"results": users, "total_records": "100000"}
	if next != "" {
		page["next_page_token"] = next
	}
	b, err := json.Marshal(page)
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkDecodeListUsersPage is the client's decoding of one page of 100
// users, as done for every page of a sync.
func BenchmarkDecodeListUsersPage(b *testing.B) {
	body := benchPage(100, "next-token")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var wire listUsersWire
		if err := json.Unmarshal(body, &wire); err != nil {
			b.Fatal(err)
		}
		if len(wire.Results) != 100 {
			b.Fatalf("got %d users, want 100", len(wire.Results))
		}
	}
}

// BenchmarkListUsers is one ListUsers call over loopback HTTP through the
// production transport (uhttp, keep-alive): request, response and decoding.
func BenchmarkListUsers(b *testing.B) {
	body := benchPage(100, "next-token")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := NewClient(context.Background(), srv.URL, "bench-key")
	if err != nil {
		b.Fatal(err)
	}
	identified := true
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		page, err := c.ListUsers(context.Background(), ListUsersParams{IsIdentified: &identified, PageToken: "tok"})
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Results) != 100 {
			b.Fatalf("got %d users, want 100", len(page.Results))
		}
	}
}

package fullstory

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// benchPages starts a simulator with n identified users and returns the
// URL of every list page (tokens are valid for as long as the server runs).
func benchPages(b *testing.B, n int, query string) (*Server, []string) {
	b.Helper()
	sim, err := New(WithAPIKey(adminKey, RoleAdmin), WithUsers(n), WithPageSize(100))
	if err != nil {
		b.Fatal(err)
	}
	var urls []string
	lq := listQuery{limit: 100}
	if query == "is_identified=true" {
		lq.identified = new(true)
	}
	fh := filterHash(&lq)
	after := ""
	for {
		u := usersPath + "?" + query
		if after != "" {
			u += "&page_token=" + sim.encodePageToken(fh, after)
		}
		urls = append(urls, u)
		lq.after = after
		res := sim.st.list(lq, sim.now())
		if !res.more {
			return sim, urls
		}
		after = res.page[len(res.page)-1].id
	}
}

// BenchmarkListPage measures pages of 100 users per second through a real
// HTTP client over loopback (client and server share the CPUs; run with
// -cpu 1 for the one-core figure).
func BenchmarkListPage(b *testing.B) {
	for _, query := range []string{"", "is_identified=true"} {
		b.Run("query="+query, func(b *testing.B) {
			sim, urls := benchPages(b, 20_000, query)
			srv := httptest.NewServer(sim.Handler())
			defer srv.Close()
			client := srv.Client()
			reqs := make([]*http.Request, len(urls))
			for i, u := range urls {
				reqs[i], _ = http.NewRequest("GET", srv.URL+u, nil)
				reqs[i].Header.Set("Authorization", "Basic "+adminKey)
			}
			var bytes int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				resp, err := client.Do(reqs[i%len(reqs)])
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
				bytes += n
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			b.ReportMetric(float64(bytes)/float64(b.N), "B/page")
		})
	}
}

// BenchmarkListPageHandler is the server side alone, in process.
func BenchmarkListPageHandler(b *testing.B) {
	sim, urls := benchPages(b, 20_000, "")
	h := sim.Handler()
	reqs := make([]*http.Request, len(urls))
	for i, u := range urls {
		reqs[i] = httptest.NewRequest("GET", u, nil)
		reqs[i].Header.Set("Authorization", "Basic "+adminKey)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.status = 0
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestLargeStore builds 120k users (100k identified, 20k anonymous),
// reports the heap they take and walks every page of 100.
func TestLargeStore(t *testing.T) {
	const n = 120_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sim, err := New(WithUsers(100_000), WithAnonymousUsers(20_000))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	mib := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("120k users: %.1f MiB heap (%.0f B/user)", mib, mib*(1<<20)/n)
	if mib > 200 {
		t.Errorf("120k users take %.1f MiB of heap; want under 200", mib)
	}

	cursor, pages, seen := "", 0, 0
	for {
		res := sim.st.list(listQuery{limit: 100, after: cursor}, fakeNow)
		if res.total != n {
			t.Fatalf("total %d, want %d", res.total, n)
		}
		seen += len(res.page)
		pages++
		if !res.more {
			break
		}
		cursor = res.page[len(res.page)-1].id
	}
	if seen != n || pages != n/100 {
		t.Errorf("walked %d users in %d pages, want %d in %d", seen, pages, n, n/100)
	}
}

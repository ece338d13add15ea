package fullstory

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestConcurrentClients runs 16 clients creating, updating, deleting and
// listing at once (run it under -race) and checks the store is
// consistent afterwards.
func TestConcurrentClients(t *testing.T) {
	const workers, opsPerWorker = 16, 150
	e := newEnv(t, WithUsers(300), WithAnonymousUsers(100), WithPageSize(50), WithDeleteDelay(5*time.Millisecond))
	// The fake clock moves with real time so that deletions complete
	// during the run.
	stop := make(chan struct{})
	var tick sync.WaitGroup
	tick.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				e.clock.Advance(time.Millisecond)
			}
		}
	})

	ids := e.sim.Users()
	var (
		mu    sync.Mutex
		known = userIDs(ids)
	)
	pickID := func(r *rand.Rand) string {
		mu.Lock()
		defer mu.Unlock()
		return known[r.IntN(len(known))]
	}
	remember := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		known = append(known, id)
	}

	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			client := e.srv.Client()
			call := func(method, path, body string) (int, []byte, error) {
				var rd io.Reader
				if body != "" {
					rd = strings.NewReader(body)
				}
				hr, err := http.NewRequest(method, e.srv.URL+path, rd)
				if err != nil {
					return 0, nil, err
				}
				hr.Header.Set("Authorization", "Basic "+adminKey)
				resp, err := client.Do(hr)
				if err != nil {
					return 0, nil, err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return resp.StatusCode, b, err
			}
			for i := range opsPerWorker {
				var (
					status int
					body   []byte
					err    error
					op     string
				)
				// A small shared uid pool makes upserts and uid conflicts collide.
				uid := fmt.Sprintf("shared-%d", r.IntN(40))
				switch k := r.IntN(10); {
				case k < 3:
					op = "create"
					b := fmt.Sprintf(`{"uid":%q,"properties":{"w":%d,"i":%d}}`, uid, w, i)
					if r.IntN(3) == 0 {
						b = fmt.Sprintf(`{"properties":{"w":%d}}`, w)
					}
					status, body, err = call("POST", "/v2/users", b)
					if err == nil && status == 200 {
						var out struct{ ID string }
						if json.Unmarshal(body, &out) == nil {
							remember(out.ID)
						}
					}
				case k < 5:
					op = "update"
					b := fmt.Sprintf(`{"display_name":"w%d-%d","properties":{"n":%d}}`, w, i, i)
					if r.IntN(4) == 0 {
						b = fmt.Sprintf(`{"uid":%q}`, uid)
					}
					status, body, err = call("POST", "/v2/users/"+pickID(r), b)
				case k < 6:
					op = "delete"
					status, body, err = call("DELETE", "/v2/users/"+pickID(r), "")
				case k < 7:
					op = "delete by uid"
					status, body, err = call("DELETE", "/v2/users?uid="+uid, "")
				default:
					op = "list"
					q := []string{"", "?is_identified=true", "?is_identified=false", "?uid=" + uid}[r.IntN(4)]
					status, body, err = call("GET", "/v2/users"+q, "")
					if err == nil && status == 200 {
						var p listPage
						if err := json.Unmarshal(body, &p); err != nil {
							errs <- fmt.Errorf("list answer is not JSON: %v", err)
							return
						}
						if !slices.IsSortedFunc(p.Results, func(a, b User) int { return strings.Compare(a.ID, b.ID) }) {
							errs <- fmt.Errorf("list page not sorted")
							return
						}
						// Follow one more page to exercise tokens under churn.
						if p.NextPageToken != "" {
							sep := "?"
							if q != "" {
								sep = "&"
							}
							status, body, err = call("GET", "/v2/users"+q+sep+"page_token="+p.NextPageToken, "")
						}
					}
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %v", op, err)
					return
				}
				switch status {
				case 200, 404, 409, 400:
					if status == 400 && op != "update" {
						errs <- fmt.Errorf("%s: 400 %s", op, body)
						return
					}
				default:
					errs <- fmt.Errorf("%s: status %d %s", op, status, body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	tick.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if err := e.sim.st.checkInvariants(); err != nil {
		t.Fatalf("store inconsistent: %v", err)
	}
	// Listing everything agrees with the dump, and counts add up.
	users := e.sim.Users()
	all, _ := e.listAll("")
	if diff := cmp.Diff(userIDs(users), all); diff != "" {
		t.Errorf("listing differs from dump (-dump +list):\n%s", diff)
	}
	ident, _ := e.listAll("is_identified=true")
	anon, _ := e.listAll("is_identified=false")
	if len(ident)+len(anon) != len(all) {
		t.Errorf("%d identified + %d anonymous != %d", len(ident), len(anon), len(all))
	}
	if p := e.list(""); p.TotalRecords != fmt.Sprint(len(users)) {
		t.Errorf("total_records %s, want %d", p.TotalRecords, len(users))
	}
	seen := map[string]string{}
	for _, u := range users {
		if u.UID == "" || u.IsBeingDeleted {
			continue
		}
		if other, dup := seen[u.UID]; dup {
			t.Errorf("uid %s held by %s and %s", u.UID, other, u.ID)
		}
		seen[u.UID] = u.ID
		if got := e.list("?uid=" + u.UID); len(got.Results) == 0 {
			t.Errorf("uid filter %s finds nothing", u.UID)
		}
	}
}

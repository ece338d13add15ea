package fullstory

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzSCIM sends arbitrary methods, paths below /scim/v2, query strings,
// bodies, content types and credentials to the SCIM API in process. No
// input may panic the server, earn a 5xx, answer anything but
// application/scim+json (204 aside), produce an error outside SCIM's
// error schema, answer a teammate that differs from the stored one, or
// break the store's invariants. The seed corpus is in
// testdata/fuzz/FuzzSCIM.
func FuzzSCIM(f *testing.F) {
	const maxPage = 4
	newSim := func(tb testing.TB) *Server {
		sim, err := New(WithSCIMToken(scimToken), WithTeammates(10), WithSCIMMaxPageSize(maxPage), WithClock(newFakeClock().Now))
		if err != nil {
			tb.Fatal(err)
		}
		return sim
	}
	id := newSim(f).Teammates()[2].ID
	f.Add("PATCH", "/Users/"+id, "", []byte(`{"schemas":["`+SCIMPatchOpSchema+`"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@example.com"}]}`), "", 0)
	f.Add("GET", "/Users/"+id, "attributes=userName", []byte(nil), "", 0)

	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, contentType string, auth int) {
		if !validMethod(method) || len(body) > 1<<20 {
			return
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path // stay below the prefix: /scim/v2x is not SCIM
		}
		sim := newSim(t)
		r := fuzzRequest(t, method, SCIMPathPrefix+path, query, body)
		switch auth % 4 {
		case 0:
			r.Header.Set("Authorization", "Bearer "+scimToken)
		case 1:
			r.Header.Set("Authorization", "Bearer not-"+scimToken)
		case 2:
			r.Header.Set("Authorization", "Basic "+scimToken)
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		start := time.Now()
		sim.Handler().ServeHTTP(w, r)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s %s?%s took %v", method, r.URL.Path, query, d)
		}
		desc := method + " " + r.URL.Path + "?" + query + " " + strconv.Quote(string(body))

		switch w.Code {
		case 200, 201, 400, 401, 404, 405, 409, 413, 415:
		case 204:
			if w.Body.Len() != 0 {
				t.Fatalf("%s: 204 with a body %q", desc, w.Body)
			}
		case 301: // gorilla/mux redirects unclean paths
			return
		default:
			t.Fatalf("%s: status %d %s", desc, w.Code, w.Body)
		}
		if w.Code != 204 {
			if ct := w.Header().Get("Content-Type"); ct != SCIMContentType {
				t.Fatalf("%s: Content-Type %q", desc, ct)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: body is not JSON: %q", desc, w.Body)
			}
		}
		if w.Code >= 400 {
			var e scimErr
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Detail == "" ||
				!cmp.Equal(e.Schemas, []string{SCIMErrorSchema}) || e.Status != strconv.Itoa(w.Code) {
				t.Fatalf("%s: error body %s is not a SCIM error for %d", desc, w.Body, w.Code)
			}
		}
		if auth%4 != 0 && w.Code != 401 && w.Code != 301 {
			t.Fatalf("%s: status %d without the token", desc, w.Code)
		}
		if w.Code == 200 || w.Code == 201 {
			var probe struct {
				Schemas []string `json:"schemas"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &probe)
			switch {
			case cmp.Equal(probe.Schemas, []string{SCIMListResponseSchema}):
				var l scimList
				if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil {
					t.Fatalf("%s: list: %v", desc, err)
				}
				if len(l.Resources) > maxPage || l.ItemsPerPage != len(l.Resources) || l.TotalResults < l.ItemsPerPage || l.StartIndex < 1 {
					t.Fatalf("%s: list page %d items (itemsPerPage %d, total %d, start %d)", desc, len(l.Resources), l.ItemsPerPage, l.TotalResults, l.StartIndex)
				}
			case cmp.Equal(probe.Schemas, []string{SCIMUserSchema}):
				var got Teammate
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatalf("%s: teammate: %v", desc, err)
				}
				var want Teammate
				for _, tm := range sim.Teammates() {
					if tm.ID == got.ID {
						want = tm
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s: answered teammate differs from the stored one (-stored +answer):\n%s", desc, diff)
				}
			case !strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
				t.Fatalf("%s: %d with schemas %v", desc, w.Code, probe.Schemas)
			}
		}
		if err := sim.tm.checkInvariants(); err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if n := len(sim.Teammates()); n > 11 {
			t.Fatalf("%s: one request left %d teammates (started with 10)", desc, n)
		}
	})
}

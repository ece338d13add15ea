package fullstory

import (
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGeneratedUsers(t *testing.T) {
	gen := func(seed int64) []User {
		t.Helper()
		s, err := New(WithSeed(seed), WithUsers(20), WithAnonymousUsers(10))
		if err != nil {
			t.Fatal(err)
		}
		return s.Users()
	}
	a, b := gen(42), gen(42)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different users (-a +b):\n%s", diff)
	}
	if c := gen(43); cmp.Equal(a, c) {
		t.Error("seeds 42 and 43 generated the same users")
	}

	idRE := regexp.MustCompile(`^[1-9][0-9]{18}$`)
	uids := map[string]bool{}
	ident, anon := 0, 0
	lastIdentPos, firstAnonPos := -1, -1
	for i, u := range a {
		if !idRE.MatchString(u.ID) {
			t.Errorf("id %q is not 19 digits", u.ID)
		}
		if i > 0 && a[i-1].ID >= u.ID {
			t.Errorf("ids not increasing: %s then %s", a[i-1].ID, u.ID)
		}
		if u.UID != "" {
			ident++
			lastIdentPos = i
			if u.Email == "" || u.DisplayName == "" || len(u.Properties) < 5 {
				t.Errorf("identified user lacks data: %+v", u)
			}
			if uids[u.UID] {
				t.Errorf("uid %s twice", u.UID)
			}
			uids[u.UID] = true
			for _, p := range []string{"plan", "seats", "company", "signup_date", "roles"} {
				if _, ok := u.Properties[p]; !ok {
					t.Errorf("identified user %s lacks property %s", u.ID, p)
				}
			}
		} else {
			anon++
			if firstAnonPos < 0 {
				firstAnonPos = i
			}
			if u.Email != "" || u.DisplayName != "" || len(u.Properties) == 0 {
				t.Errorf("anonymous user has identity or no properties: %+v", u)
			}
		}
		if u.IsBeingDeleted {
			t.Errorf("generated user %s is being deleted", u.ID)
		}
	}
	if ident != 20 || anon != 10 {
		t.Errorf("%d identified and %d anonymous, want 20 and 10", ident, anon)
	}
	if firstAnonPos > lastIdentPos {
		t.Errorf("anonymous users are not interleaved (first anonymous at %d, last identified at %d)", firstAnonPos, lastIdentPos)
	}
	// Generated users pass the same validation as API input.
	for _, u := range a {
		u.ID = ""
		if _, err := recFromUser(u, fakeNow, 0); err != nil {
			t.Errorf("generated user fails validation: %v", err)
		}
	}
}

var fakeNow = newFakeClock().Now()

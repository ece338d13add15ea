package fullstory

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStoreCompactionAndRevival(t *testing.T) {
	now := newFakeClock().Now()
	m := newMemStore(1)
	if _, err := m.put(generateRecs(1, 2000, 1000), true, now); err != nil {
		t.Fatal(err)
	}
	all := m.all(now)
	// Delete two thirds at once, identify some anonymous users, then let
	// the deletions complete: indexes must be compacted and stay right.
	for i, r := range all {
		switch {
		case i%3 != 0:
			if err := m.remove(r.id, "", now, time.Second); err != nil {
				t.Fatal(err)
			}
		case !r.identified():
			if _, err := m.update(r.id, &userInput{uid: "now-" + r.id}, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Second)
	if got, want := m.count(later), 1000; got != want {
		t.Fatalf("count %d, want %d", got, want)
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []indexKind{kindAll, kindIdent, kindAnon} {
		if n, live := len(m.index(k).ids), m.liveCount(k); n > live+live/4+256 {
			t.Errorf("index %d holds %d ids for %d live users: not compacted", k, n, live)
		}
	}
	if m.liveCount(kindAnon) != 0 {
		t.Errorf("%d anonymous users left, want 0", m.liveCount(kindAnon))
	}
	// Putting back a purged id revives it in the right index.
	gone := all[1]
	if _, err := m.put([]*rec{{id: gone.id, props: []byte(`{"back":true}`)}}, false, later); err != nil {
		t.Fatal(err)
	}
	res := m.list(listQuery{identified: new(false), limit: 10}, later)
	if diff := cmp.Diff([]string{gone.id}, recIDs(res.page)); diff != "" {
		t.Errorf("anonymous listing (-want +got):\n%s", diff)
	}
	if err := m.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func recIDs(rs []*rec) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.id
	}
	return out
}

func TestCheckInvariantsDetectsCorruption(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(m *memStore)
	}{
		{"count", func(m *memStore) { m.nIdent++ }},
		{"uid map", func(m *memStore) { m.byUID["ghost"] = "nobody" }},
		{"index order", func(m *memStore) { ix := m.ixAll.ids; ix[0], ix[1] = ix[1], ix[0] }},
		{"missing from index", func(m *memStore) { m.ixIdent.ids = m.ixIdent.ids[1:] }},
		{"unscheduled deletion", func(m *memStore) {
			for id, r := range m.byID {
				c := *r
				c.deleteAt = 1
				m.byID[id] = &c
				return
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemStore(1)
			if _, err := m.put(generateRecs(1, 5, 5), true, fakeNow); err != nil {
				t.Fatal(err)
			}
			if err := m.checkInvariants(); err != nil {
				t.Fatalf("fresh store: %v", err)
			}
			tc.corrupt(m)
			if err := m.checkInvariants(); err == nil {
				t.Error("corruption not detected")
			}
		})
	}
}

package fullstory

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// teammateStore holds the SCIM teammates. Every method is atomic;
// returned *Teammate values are never modified once stored (changes
// replace them), so callers may read them after the call returns but must
// clone them before handing them out.
type teammateStore interface {
	get(id string) (*Teammate, bool)
	// list returns the page of count teammates starting at the 1-based
	// startIndex, in id order, of those whose userName matches userName
	// (case-insensitively) when it is not nil.
	list(userName *string, startIndex, count int) (page []*Teammate, total int)
	// create stores t under a new id; 409 uniqueness when its userName
	// is taken.
	create(t *Teammate, now time.Time) (*Teammate, error)
	// modify replaces the teammate with this id by fn's result, checking
	// userName uniqueness; 404 when there is none.
	modify(id string, now time.Time, fn func(old *Teammate) (*Teammate, error)) (*Teammate, error)
	remove(id string) error
	// put stores whole teammates: one with an id replaces that teammate;
	// one without gets the id of the teammate with the same userName, or
	// a new id.
	put(ts []*Teammate, now time.Time) ([]*Teammate, error)
	all() []*Teammate
	count() int
	reset()
	snapshot() (seq uint64, ts []*Teammate)
	restore(seq uint64, ts []*Teammate) error
	checkInvariants() error
}

var _ teammateStore = (*memTeammates)(nil)

// memTeammates keeps teammates in a map by id, an id-sorted slice (so a
// page is a slice of it) and a map from folded userName to id.
type memTeammates struct {
	mu         sync.RWMutex
	seed       uint64
	idBase     uint64
	seq        uint64
	byID       map[string]*Teammate
	ids        []string
	byUserName map[string]string
}

func newMemTeammates(seed int64) *memTeammates {
	m := &memTeammates{seed: uint64(seed)}
	// 16 hex digits that increase with each new teammate, so id order is
	// creation order; far below 2^64 so the sequence never wraps.
	m.idBase = splitmix64(m.seed^0x5c1a7ea3a7e5) & 0x0fff_ffff_ffff_0000
	m.resetLocked()
	return m
}

// foldUserName is the key under which userNames are unique: SCIM's
// userName has caseExact false.
func foldUserName(s string) string { return strings.ToLower(s) }

func (m *memTeammates) get(id string) (*Teammate, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byID[id]
	return t, ok
}

func (m *memTeammates) list(userName *string, startIndex, count int) ([]*Teammate, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	startIndex = max(startIndex, 1)
	count = max(count, 0)
	if userName != nil {
		id, ok := m.byUserName[foldUserName(*userName)]
		if !ok {
			return nil, 0
		}
		if startIndex > 1 || count == 0 {
			return nil, 1
		}
		return []*Teammate{m.byID[id]}, 1
	}
	total := len(m.ids)
	if startIndex > total {
		return nil, total
	}
	end := min(total, startIndex-1+count)
	page := make([]*Teammate, 0, end-startIndex+1)
	for _, id := range m.ids[startIndex-1 : end] {
		page = append(page, m.byID[id])
	}
	return page, total
}

func errUserNameTaken(userName, otherID string) error {
	return scimErrorf(http.StatusConflict, scimUniqueness, "userName %q is already taken by teammate %s", truncate(userName, 128), otherID)
}

func (m *memTeammates) create(t *Teammate, now time.Time) (*Teammate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if other, ok := m.byUserName[foldUserName(t.UserName)]; ok {
		return nil, errUserNameTaken(t.UserName, other)
	}
	c := *t
	c.ID = m.nextID()
	stamp(&c, nil, now)
	m.set(nil, &c)
	return &c, nil
}

func (m *memTeammates) modify(id string, now time.Time, fn func(old *Teammate) (*Teammate, error)) (*Teammate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.byID[id]
	if !ok {
		return nil, errTeammateNotFound(id)
	}
	t, err := fn(old)
	if err != nil {
		return nil, err
	}
	c := *t
	c.ID = id
	if other, ok := m.byUserName[foldUserName(c.UserName)]; ok && other != id {
		return nil, errUserNameTaken(c.UserName, other)
	}
	if c.sameContent(*old) {
		return old, nil
	}
	stamp(&c, old, now)
	m.set(old, &c)
	return &c, nil
}

// stamp sets the fields the server owns: schemas, meta.resourceType and
// meta.location always; created (kept from old, else now) when zero;
// lastModified to now when zero or when old is given. Times are UTC, and
// now is cut to milliseconds.
func stamp(t *Teammate, old *Teammate, now time.Time) {
	now = now.Truncate(time.Millisecond) // SCIM servers answer milliseconds at most
	t.Schemas = []string{SCIMUserSchema}
	t.Meta.ResourceType = "User"
	t.Meta.Location = teammateLocation(t.ID)
	if t.Meta.Created.IsZero() {
		t.Meta.Created = now
		if old != nil {
			t.Meta.Created = old.Meta.Created
		}
	}
	if t.Meta.LastModified.IsZero() || old != nil {
		t.Meta.LastModified = now
	}
	t.Meta.Created = t.Meta.Created.UTC()
	t.Meta.LastModified = t.Meta.LastModified.UTC()
}

func (m *memTeammates) remove(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.byID[id]
	if !ok {
		return errTeammateNotFound(id)
	}
	m.set(old, nil)
	return nil
}

func (m *memTeammates) put(ts []*Teammate, now time.Time) ([]*Teammate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now = now.Truncate(time.Millisecond)
	out := make([]*Teammate, 0, len(ts))
	for i, in := range ts {
		c := *in
		key := foldUserName(c.UserName)
		if c.ID == "" {
			c.ID = m.byUserName[key]
		}
		if c.ID == "" {
			c.ID = m.nextID()
		}
		if other, ok := m.byUserName[key]; ok && other != c.ID {
			return out, scimErrorf(http.StatusConflict, scimUniqueness, "teammate %d: userName %q is already taken by teammate %s", i, truncate(c.UserName, 128), other)
		}
		old := m.byID[c.ID]
		if old != nil {
			// A replacement is a new version: lastModified is now unless given.
			c.Meta.Created = cmpOr(c.Meta.Created, old.Meta.Created)
			c.Meta.LastModified = cmpOr(c.Meta.LastModified, now)
		}
		stamp(&c, nil, now)
		m.set(old, &c)
		out = append(out, &c)
	}
	return out, nil
}

func cmpOr(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

// set replaces old (nil: none) by t (nil: remove), keeping the id slice
// and the userName map in step. Callers have checked uniqueness.
func (m *memTeammates) set(old, t *Teammate) {
	if old != nil {
		delete(m.byUserName, foldUserName(old.UserName))
		if t == nil {
			delete(m.byID, old.ID)
			i := sort.SearchStrings(m.ids, old.ID)
			m.ids = slices.Delete(m.ids, i, i+1)
			return
		}
	}
	if _, exists := m.byID[t.ID]; !exists {
		if n := len(m.ids); n == 0 || m.ids[n-1] < t.ID {
			m.ids = append(m.ids, t.ID)
		} else {
			m.ids = slices.Insert(m.ids, sort.SearchStrings(m.ids, t.ID), t.ID)
		}
	}
	m.byID[t.ID] = t
	m.byUserName[foldUserName(t.UserName)] = t.ID
}

func (m *memTeammates) all() []*Teammate {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Teammate, len(m.ids))
	for i, id := range m.ids {
		out[i] = m.byID[id]
	}
	return out
}

func (m *memTeammates) count() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.ids)
}

func (m *memTeammates) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resetLocked()
}

func (m *memTeammates) resetLocked() {
	m.seq = 0
	m.byID = map[string]*Teammate{}
	m.ids = nil
	m.byUserName = map[string]string{}
}

func (m *memTeammates) snapshot() (uint64, []*Teammate) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Teammate, len(m.ids))
	for i, id := range m.ids {
		out[i] = m.byID[id]
	}
	return m.seq, out
}

func (m *memTeammates) restore(seq uint64, ts []*Teammate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resetLocked()
	for i, t := range ts {
		if err := validateTeammate(t); err != nil {
			return fmt.Errorf("teammate %d: %w", i, err)
		}
		if !validID(t.ID) {
			return fmt.Errorf("teammate %d: invalid id %q", i, truncate(t.ID, 64))
		}
		if _, dup := m.byID[t.ID]; dup {
			return fmt.Errorf("duplicate teammate id %q", t.ID)
		}
		if other, dup := m.byUserName[foldUserName(t.UserName)]; dup {
			return fmt.Errorf("userName %q belongs to teammates %s and %s", t.UserName, other, t.ID)
		}
		c := *t
		stamp(&c, nil, time.Time{})
		m.set(nil, &c)
	}
	m.seq = seq
	return nil
}

// nextID returns a new id: 16 hex digits, increasing with each call (so
// new teammates append to the id slice), derived from the seed.
func (m *memTeammates) nextID() string {
	for {
		m.seq++
		n := m.idBase + m.seq<<12 + splitmix64(m.seed^m.seq*0xbf58476d1ce4e5b9)%4096
		id := fmt.Sprintf("%016x", n)
		if _, ok := m.byID[id]; !ok {
			return id
		}
	}
}

func (m *memTeammates) checkInvariants() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.ids) != len(m.byID) {
		return fmt.Errorf("%d ids, %d teammates", len(m.ids), len(m.byID))
	}
	if !slices.IsSorted(m.ids) {
		return fmt.Errorf("ids not sorted")
	}
	if len(m.byUserName) != len(m.byID) {
		return fmt.Errorf("%d userNames, %d teammates", len(m.byUserName), len(m.byID))
	}
	for i, id := range m.ids {
		if i > 0 && m.ids[i-1] == id {
			return fmt.Errorf("id %q twice", id)
		}
		t := m.byID[id]
		if t == nil || t.ID != id {
			return fmt.Errorf("byID[%q] = %v", id, t)
		}
		if m.byUserName[foldUserName(t.UserName)] != id {
			return fmt.Errorf("userName %q maps to %q, want %q", t.UserName, m.byUserName[foldUserName(t.UserName)], id)
		}
		if err := validateTeammate(t); err != nil {
			return fmt.Errorf("teammate %s: %w", id, err)
		}
	}
	return nil
}

package fullstory

import (
	"container/heap"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// store holds the users. Every method is atomic; returned *rec values are
// immutable and safe to read after the call returns.
type store interface {
	get(id string, now time.Time) (*rec, bool)
	list(q listQuery, now time.Time) listResult
	// create is POST /v2/users: it updates the identified user with the
	// same uid, or creates a user.
	create(in *userInput, now time.Time) (string, error)
	// update is POST /v2/users/{id}.
	update(id string, in *userInput, now time.Time) (string, error)
	// remove marks the user with this id (or, when id is empty, the
	// identified user with this uid) as being deleted; it disappears
	// after delay.
	remove(id, uid string, now time.Time, delay time.Duration) error
	// put stores whole records: a record with an id replaces that user;
	// one without gets a new id, or, with byUID, the id of the identified
	// user with the same uid.
	put(rs []*rec, byUID bool, now time.Time) ([]*rec, error)
	all(now time.Time) []*rec
	count(now time.Time) int
	reset()
	snapshot() (seq uint64, rs []*rec)
	restore(seq uint64, rs []*rec) error
}

var _ store = (*memStore)(nil)

type listQuery struct {
	uid, email, displayName string
	identified              *bool
	after                   string // exclusive cursor; "" starts at the beginning
	limit                   int
}

type listResult struct {
	page  []*rec
	total int64
	more  bool
}

// memStore keeps users in a map by id plus three id-sorted indexes (all,
// identified, anonymous), so an unfiltered or is_identified page is found
// by binary search and costs O(page size). Indexes may hold stale ids
// (deleted users, users that became identified); readers skip those and
// the indexes are compacted once stale ids exceed a quarter of the live
// ones.
type memStore struct {
	mu      sync.RWMutex
	seed    uint64
	idBase  uint64
	seq     uint64
	byID    map[string]*rec
	byUID   map[string]string // identified users not being deleted: uid -> id
	nIdent  int
	ixAll   index
	ixIdent index
	ixAnon  index
	pending deleteHeap
}

func newMemStore(seed int64) *memStore {
	m := &memStore{seed: uint64(seed)}
	m.idBase = 1_000_000_000_000_000_000 + splitmix64(m.seed)%100_000_000_000_000_000/1000*1000
	m.resetLocked()
	return m
}

// index is a sorted slice of user ids.
type index struct{ ids []string }

func (ix *index) add(id string) {
	n := len(ix.ids)
	if n == 0 || ix.ids[n-1] < id {
		ix.ids = append(ix.ids, id)
		return
	}
	i := sort.SearchStrings(ix.ids, id)
	if i < n && ix.ids[i] == id {
		return
	}
	ix.ids = slices.Insert(ix.ids, i, id)
}

// after returns the position of the first id greater than id.
func (ix *index) after(id string) int {
	if id == "" {
		return 0
	}
	return sort.Search(len(ix.ids), func(i int) bool { return ix.ids[i] > id })
}

type indexKind int

const (
	kindAll indexKind = iota
	kindIdent
	kindAnon
)

func (m *memStore) index(k indexKind) *index {
	switch k {
	case kindIdent:
		return &m.ixIdent
	case kindAnon:
		return &m.ixAnon
	}
	return &m.ixAll
}

func (m *memStore) liveCount(k indexKind) int {
	switch k {
	case kindIdent:
		return m.nIdent
	case kindAnon:
		return len(m.byID) - m.nIdent
	}
	return len(m.byID)
}

// member returns the user with this id if it belongs to index k.
func (m *memStore) member(k indexKind, id string) *rec {
	r := m.byID[id]
	if r == nil {
		return nil
	}
	switch k {
	case kindIdent:
		if !r.identified() {
			return nil
		}
	case kindAnon:
		if r.identified() {
			return nil
		}
	}
	return r
}

func (m *memStore) compact() {
	for _, k := range []indexKind{kindAll, kindIdent, kindAnon} {
		ix := m.index(k)
		live := m.liveCount(k)
		if len(ix.ids) <= live+live/4+256 {
			continue
		}
		ids := ix.ids[:0]
		for _, id := range ix.ids {
			if m.member(k, id) != nil {
				ids = append(ids, id)
			}
		}
		clear(ix.ids[len(ids):])
		ix.ids = ids
	}
}

// set replaces old (nil: none) by r (nil: remove) and keeps every index
// and counter in step. Callers have checked uid uniqueness.
func (m *memStore) set(old, r *rec) {
	if old != nil {
		if old.identified() {
			m.nIdent--
			if m.byUID[old.uid] == old.id {
				delete(m.byUID, old.uid)
			}
		}
		if r == nil {
			delete(m.byID, old.id)
			return
		}
	}
	m.byID[r.id] = r
	m.ixAll.add(r.id)
	if r.identified() {
		m.nIdent++
		m.ixIdent.add(r.id)
		if !r.deleting() {
			m.byUID[r.uid] = r.id
		}
	} else {
		m.ixAnon.add(r.id)
	}
	if r.deleting() && (old == nil || old.deleteAt != r.deleteAt) {
		heap.Push(&m.pending, pendingDelete{at: r.deleteAt, id: r.id})
	}
}

func (m *memStore) needsPurge(now int64) bool {
	return len(m.pending) > 0 && m.pending[0].at <= now
}

func (m *memStore) purgeLocked(now int64) {
	purged := false
	for m.needsPurge(now) {
		e := heap.Pop(&m.pending).(pendingDelete)
		if r := m.byID[e.id]; r != nil && r.deleteAt == e.at {
			m.set(r, nil)
			purged = true
		}
	}
	if purged {
		m.compact()
	}
}

// rlock takes the read lock after removing users whose deletion is done.
func (m *memStore) rlock(now time.Time) {
	n := now.UnixNano()
	m.mu.RLock()
	if m.needsPurge(n) {
		m.mu.RUnlock()
		m.mu.Lock()
		m.purgeLocked(n)
		m.mu.Unlock()
		m.mu.RLock()
	}
}

func (m *memStore) lock(now time.Time) {
	m.mu.Lock()
	m.purgeLocked(now.UnixNano())
}

func (m *memStore) get(id string, now time.Time) (*rec, bool) {
	m.rlock(now)
	defer m.mu.RUnlock()
	r, ok := m.byID[id]
	return r, ok
}

func (q *listQuery) match(r *rec) bool {
	if q.uid != "" && r.uid != q.uid {
		return false
	}
	if q.identified != nil && *q.identified != r.identified() {
		return false
	}
	if q.email != "" && !strings.EqualFold(r.email, q.email) {
		return false
	}
	if q.displayName != "" && r.displayName != q.displayName {
		return false
	}
	return true
}

func (m *memStore) list(q listQuery, now time.Time) listResult {
	m.rlock(now)
	defer m.mu.RUnlock()
	if q.limit <= 0 {
		q.limit = 100
	}
	var res listResult
	if q.uid != "" {
		// At most one user that is not being deleted has a uid; users
		// being deleted keep theirs until they disappear.
		var cands []*rec
		if id, ok := m.byUID[q.uid]; ok {
			cands = append(cands, m.byID[id])
		}
		for _, e := range m.pending {
			if r := m.byID[e.id]; r != nil && r.deleteAt == e.at && r.uid == q.uid {
				cands = append(cands, r)
			}
		}
		sortRecs(cands)
		for _, r := range cands {
			if !q.match(r) {
				continue
			}
			res.total++
			if r.id <= q.after && q.after != "" {
				continue
			}
			if len(res.page) == q.limit {
				res.more = true
				continue
			}
			res.page = append(res.page, r)
		}
		return res
	}
	k := kindAll
	if q.identified != nil {
		k = kindAnon
		if *q.identified {
			k = kindIdent
		}
	}
	ix := m.index(k)
	filtered := q.email != "" || q.displayName != ""
	res.page = make([]*rec, 0, min(q.limit, 128))
	for i := ix.after(q.after); i < len(ix.ids); i++ {
		r := m.member(k, ix.ids[i])
		if r == nil || (filtered && !q.match(r)) {
			continue
		}
		if len(res.page) == q.limit {
			res.more = true
			break
		}
		res.page = append(res.page, r)
	}
	if !filtered {
		res.total = int64(m.liveCount(k))
		return res
	}
	for _, id := range ix.ids {
		if r := m.member(k, id); r != nil && q.match(r) {
			res.total++
		}
	}
	return res
}

func (m *memStore) create(in *userInput, now time.Time) (string, error) {
	m.lock(now)
	defer m.mu.Unlock()
	var old *rec
	id := ""
	if in.uid != "" {
		if existing, ok := m.byUID[in.uid]; ok {
			id, old = existing, m.byID[existing]
		}
	}
	if id == "" {
		id = m.nextID()
	}
	r, err := in.apply(old, id)
	if err != nil {
		return "", err
	}
	m.set(old, r)
	return id, nil
}

func (m *memStore) update(id string, in *userInput, now time.Time) (string, error) {
	m.lock(now)
	defer m.mu.Unlock()
	old := m.byID[id]
	if old == nil || old.deleting() {
		return "", errUserNotFound
	}
	if in.uid != "" && old.uid != in.uid {
		if old.uid != "" {
			return "", invalidf("uid cannot be changed once set (user %s has uid %q)", id, old.uid)
		}
		if other, ok := m.byUID[in.uid]; ok && other != id {
			return "", errorf(http.StatusConflict, CodeConflict, "uid %q already belongs to user %s", in.uid, other)
		}
	}
	r, err := in.apply(old, id)
	if err != nil {
		return "", err
	}
	m.set(old, r)
	if old.identified() != r.identified() {
		m.compact()
	}
	return id, nil
}

func (m *memStore) remove(id, uid string, now time.Time, delay time.Duration) error {
	m.lock(now)
	defer m.mu.Unlock()
	if id == "" {
		var ok bool
		if id, ok = m.byUID[uid]; !ok {
			for _, e := range m.pending {
				if r := m.byID[e.id]; r != nil && r.deleteAt == e.at && r.uid == uid {
					return nil // already being deleted
				}
			}
			return errUserNotFound
		}
	}
	old := m.byID[id]
	if old == nil {
		return errUserNotFound
	}
	if old.deleting() {
		return nil
	}
	if delay <= 0 {
		m.set(old, nil)
		m.compact()
		return nil
	}
	r := *old
	r.deleteAt = now.Add(delay).UnixNano()
	m.set(old, &r)
	return nil
}

func (m *memStore) put(rs []*rec, byUID bool, now time.Time) ([]*rec, error) {
	m.lock(now)
	defer m.mu.Unlock()
	out := make([]*rec, 0, len(rs))
	for i, in := range rs {
		r := *in
		if r.id == "" && byUID && r.uid != "" {
			r.id = m.byUID[r.uid]
		}
		if r.id == "" {
			r.id = m.nextID()
		}
		if r.identified() && !r.deleting() {
			if other, ok := m.byUID[r.uid]; ok && other != r.id {
				return out, errorf(http.StatusConflict, CodeConflict, "record %d: uid %q already belongs to user %s", i, r.uid, other)
			}
		}
		old := m.byID[r.id]
		m.set(old, &r)
		out = append(out, &r)
	}
	m.compact()
	return out, nil
}

func (m *memStore) all(now time.Time) []*rec {
	m.rlock(now)
	defer m.mu.RUnlock()
	out := make([]*rec, 0, len(m.byID))
	for _, id := range m.ixAll.ids {
		if r := m.byID[id]; r != nil {
			out = append(out, r)
		}
	}
	return out
}

func (m *memStore) count(now time.Time) int {
	m.rlock(now)
	defer m.mu.RUnlock()
	return len(m.byID)
}

func (m *memStore) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resetLocked()
}

func (m *memStore) resetLocked() {
	m.seq = 0
	m.byID = make(map[string]*rec)
	m.byUID = make(map[string]string)
	m.nIdent = 0
	m.ixAll, m.ixIdent, m.ixAnon = index{}, index{}, index{}
	m.pending = nil
}

func (m *memStore) snapshot() (uint64, []*rec) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*rec, 0, len(m.byID))
	for _, id := range m.ixAll.ids {
		if r := m.byID[id]; r != nil {
			out = append(out, r)
		}
	}
	return m.seq, out
}

func (m *memStore) restore(seq uint64, rs []*rec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resetLocked()
	sorted := slices.Clone(rs)
	sortRecs(sorted)
	for i, r := range sorted {
		if !validID(r.id) {
			return fmt.Errorf("record %d: invalid id %q", i, truncate(r.id, 64))
		}
		if i > 0 && sorted[i-1].id == r.id {
			return fmt.Errorf("duplicate id %q", r.id)
		}
		if r.identified() && !r.deleting() {
			if other, ok := m.byUID[r.uid]; ok {
				return fmt.Errorf("uid %q belongs to users %s and %s", r.uid, other, r.id)
			}
		}
		m.set(nil, r)
	}
	m.seq = seq
	return nil
}

// nextID returns a new id: 19 decimal digits, increasing with each call
// (so new users append to the indexes), derived from the seed.
func (m *memStore) nextID() string {
	for {
		m.seq++
		n := m.idBase + m.seq*1000 + splitmix64(m.seed^m.seq*0x9e3779b97f4a7c15)%1000
		id := fmt.Sprintf("%019d", n)
		if _, ok := m.byID[id]; !ok {
			return id
		}
	}
}

// checkInvariants verifies the indexes against the map; tests and the
// fuzz target call it.
func (m *memStore) checkInvariants() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	nIdent := 0
	uids := map[string]string{}
	for id, r := range m.byID {
		if r.id != id {
			return fmt.Errorf("byID[%q] holds %q", id, r.id)
		}
		if r.identified() {
			nIdent++
			if !r.deleting() {
				if other, dup := uids[r.uid]; dup {
					return fmt.Errorf("uid %q held by %s and %s", r.uid, other, id)
				}
				uids[r.uid] = id
			}
		}
	}
	if nIdent != m.nIdent {
		return fmt.Errorf("nIdent = %d, counted %d", m.nIdent, nIdent)
	}
	if len(uids) != len(m.byUID) {
		return fmt.Errorf("byUID has %d entries, want %d", len(m.byUID), len(uids))
	}
	for uid, id := range uids {
		if m.byUID[uid] != id {
			return fmt.Errorf("byUID[%q] = %q, want %q", uid, m.byUID[uid], id)
		}
	}
	for _, k := range []indexKind{kindAll, kindIdent, kindAnon} {
		ix := m.index(k)
		if !slices.IsSorted(ix.ids) {
			return fmt.Errorf("index %d not sorted", k)
		}
		live := 0
		for i, id := range ix.ids {
			if i > 0 && ix.ids[i-1] == id {
				return fmt.Errorf("index %d holds %q twice", k, id)
			}
			if m.member(k, id) != nil {
				live++
			}
		}
		if live != m.liveCount(k) {
			return fmt.Errorf("index %d has %d live ids, want %d", k, live, m.liveCount(k))
		}
	}
	for _, r := range m.byID {
		if r.deleting() {
			found := false
			for _, e := range m.pending {
				if e.id == r.id && e.at == r.deleteAt {
					found = true
					break
				}
			}
			if !found {
				return fmt.Errorf("user %s is being deleted but not scheduled", r.id)
			}
		}
	}
	return nil
}

type pendingDelete struct {
	at int64
	id string
}

type deleteHeap []pendingDelete

func (h deleteHeap) Len() int           { return len(h) }
func (h deleteHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deleteHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deleteHeap) Push(x any)        { *h = append(*h, x.(pendingDelete)) }
func (h *deleteHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// splitmix64 is a bijective mixer on uint64.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

package fullstory

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// Server is a stateful fake of Fullstory's v2 Users API and SCIM
// teammates API. Mount Handler on an http.Server or httptest.Server.
type Server struct {
	cfg      config
	st       *memStore
	tm       *memTeammates
	tokenKey []byte
	idem     *idemCache
	reqlog   *requestLog
	handler  http.Handler

	faultMu sync.Mutex
	faults  Faults
	rng     *rand.Rand
	tokens  float64   // rate-limit bucket
	refill  time.Time // last refill of the bucket

	saveMu    sync.Mutex // guards dirty, saveTimer, closed
	dirty     bool
	saveTimer *time.Timer
	closed    bool
	fileMu    sync.Mutex // serializes state-file writes
}

// New returns a Server configured by opts. Users and teammates come from
// the state file when it exists, otherwise from the fixture file followed
// by generated users, and generated teammates. A state file written
// before teammates existed (no "teammates" key) gets generated teammates.
func New(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("fullstory simulator: %w", err)
		}
	}
	if cfg.users+cfg.anon > MaxGeneratedUsers {
		return nil, fmt.Errorf("fullstory simulator: more than %d generated users", MaxGeneratedUsers)
	}
	var seedBytes [8]byte
	binary.BigEndian.PutUint64(seedBytes[:], uint64(cfg.seed))
	key := sha256.Sum256(append([]byte("fullstory-simulator page-token key\x00"), seedBytes[:]...))
	s := &Server{
		cfg:      cfg,
		st:       newMemStore(cfg.seed),
		tm:       newMemTeammates(cfg.seed),
		tokenKey: key[:],
		idem:     newIdemCache(),
		reqlog:   newRequestLog(cfg.requestLogLimit),
		faults:   cfg.faults,
		rng:      rand.New(rand.NewPCG(uint64(cfg.seed), 0xfa017)),
	}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("fullstory simulator: %w", err)
	}
	s.handler = s.buildHandler()
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.clock() }

func (s *Server) load() error {
	if s.cfg.stateFile != "" {
		hadTeammates, err := s.loadState(s.cfg.stateFile)
		if err == nil {
			if hadTeammates || s.cfg.teammates == 0 {
				return nil
			}
			if _, err := s.tm.put(generateTeammates(s.cfg.seed, s.cfg.teammates), s.now()); err != nil {
				return err
			}
			return s.saveState()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	now := s.now()
	if s.cfg.fixture != "" {
		users, err := readFixture(s.cfg.fixture)
		if err != nil {
			return err
		}
		if err := s.putUsers(users, now); err != nil {
			return fmt.Errorf("fixture %s: %w", s.cfg.fixture, err)
		}
	}
	if s.cfg.users+s.cfg.anon > 0 {
		if _, err := s.st.put(generateRecs(s.cfg.seed, s.cfg.users, s.cfg.anon), true, now); err != nil {
			return err
		}
	}
	if s.cfg.teammates > 0 {
		if _, err := s.tm.put(generateTeammates(s.cfg.seed, s.cfg.teammates), now); err != nil {
			return err
		}
	}
	if s.cfg.stateFile != "" {
		return s.saveState()
	}
	return nil
}

func (s *Server) putUsers(users []User, now time.Time) error {
	rs := make([]*rec, 0, len(users))
	for i, u := range users {
		r, err := recFromUser(u, now, s.cfg.deleteDelay)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		rs = append(rs, r)
	}
	_, err := s.st.put(rs, true, now)
	return err
}

// buildHandler wires the routes. The API routers get the request log and
// fault injection; /_simulator/ gets neither. A new API area (SCIM) adds a
// routes method and one line in apiRoutes.
func (s *Server) buildHandler() http.Handler {
	api := mux.NewRouter()
	api.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, CodeResourceNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	api.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path))
	})
	s.apiRoutes(api)
	apiHandler := s.logRequests(s.injectFaults(api))

	admin := mux.NewRouter()
	admin.NotFoundHandler = api.NotFoundHandler
	admin.MethodNotAllowedHandler = api.MethodNotAllowedHandler
	s.adminRoutes(admin)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == adminPrefix || strings.HasPrefix(r.URL.Path, adminPrefix+"/") {
			admin.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}

// apiRoutes registers every faulted, logged API area.
func (s *Server) apiRoutes(r *mux.Router) {
	s.usersRoutes(r)
	s.scimRoutes(r)
}

// Handler returns the whole API: /v2/..., /scim/v2/..., /_simulator/....
func (s *Server) Handler() http.Handler { return s.handler }

// Users returns every user (those being deleted included), sorted by id.
// Properties decode as encoding/json does (numbers are float64); Schema is
// the declared schema.
func (s *Server) Users() []User {
	rs := s.st.all(s.now())
	out := make([]User, len(rs))
	for i, r := range rs {
		out[i] = r.toUser()
	}
	return out
}

// PutUser stores u whole. Without an id it replaces the identified user
// with the same uid, or gets a new id. IsBeingDeleted schedules the
// deletion after the delete delay; AppURL is ignored.
func (s *Server) PutUser(u User) (User, error) {
	now := s.now()
	r, err := recFromUser(u, now, s.cfg.deleteDelay)
	if err != nil {
		return User{}, err
	}
	rs, err := s.st.put([]*rec{r}, true, now)
	if err != nil {
		return User{}, err
	}
	s.changed()
	return rs[0].toUser(), nil
}

// Reset empties the store (users and teammates), forgets Idempotency-Keys
// and restarts the id sequences (so seeding again yields the same ids).
// Faults and the request log stay.
func (s *Server) Reset() {
	s.st.reset()
	s.tm.reset()
	s.idem.clear()
	s.changed()
}

// Seed adds users generated from seed (identified users whose uid already
// exists are replaced, so seeding twice with one seed is idempotent). It
// returns the number of users in the store.
func (s *Server) Seed(seed int64, users, anonymous int) (int, error) {
	if users < 0 || anonymous < 0 || users+anonymous > MaxGeneratedUsers {
		return 0, invalidf("users and anonymous_users must be between 0 and %d in total", MaxGeneratedUsers)
	}
	now := s.now()
	if _, err := s.st.put(generateRecs(seed, users, anonymous), true, now); err != nil {
		return 0, err
	}
	s.changed()
	return s.st.count(now), nil
}

// Faults returns the current fault injection.
func (s *Server) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults
}

// SetFaults replaces the fault injection; out-of-range values are clamped
// (negative to zero, rates to 0..1). It resets the rate-limit bucket.
func (s *Server) SetFaults(f Faults) {
	f.Latency = min(max(f.Latency, 0), time.Hour)
	f.RateLimitRPS = max(f.RateLimitRPS, 0)
	f.ErrorRate = clamp01(f.ErrorRate)
	f.DropRate = clamp01(f.DropRate)
	if f.ErrorRate+f.DropRate > 1 {
		f.ErrorRate = 1 - f.DropRate
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = f
	s.tokens = float64(f.RateLimitRPS)
	s.refill = time.Time{}
}

func clamp01(v float64) float64 {
	if !(v > 0) { // NaN too
		return 0
	}
	return min(v, 1)
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []RequestLogEntry { return s.reqlog.entries() }

// ClearRequests empties the request log.
func (s *Server) ClearRequests() { s.reqlog.clear() }

// Close flushes the state file and stops the save timer. The Server keeps
// answering requests, but later changes are no longer saved.
func (s *Server) Close() error {
	s.saveMu.Lock()
	if s.closed {
		s.saveMu.Unlock()
		return nil
	}
	s.closed = true
	if s.saveTimer != nil {
		s.saveTimer.Stop()
		s.saveTimer = nil
	}
	s.saveMu.Unlock()
	if s.cfg.stateFile == "" {
		return nil
	}
	return s.saveState()
}

// changed schedules a state-file save.
func (s *Server) changed() {
	if s.cfg.stateFile == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.dirty = true
	if s.closed || s.saveTimer != nil {
		return
	}
	s.saveTimer = time.AfterFunc(s.cfg.saveDelay, func() {
		s.saveMu.Lock()
		s.saveTimer = nil
		closed := s.closed
		s.saveMu.Unlock()
		if closed {
			return
		}
		if err := s.saveState(); err != nil {
			s.cfg.logger.Error("saving state file", "path", s.cfg.stateFile, "error", err)
		}
	})
}

// keyRole returns the role of an API key.
func (s *Server) keyRole(key string) (Role, bool) {
	if len(s.cfg.keys) == 0 {
		return RoleAdmin, key != ""
	}
	// Compare the presented key with every configured one in constant
	// time, so response timing says nothing about the keys.
	sum := sha256.Sum256([]byte(key))
	var role Role
	found := 0
	for k, r := range s.cfg.keys {
		want := sha256.Sum256([]byte(k))
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			role, found = r, 1
		}
	}
	return role, found == 1
}

// OpenMode reports whether no API key is configured (any key is accepted
// as an admin key).
func (s *Server) OpenMode() bool { return len(s.cfg.keys) == 0 }

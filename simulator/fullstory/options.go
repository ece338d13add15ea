package fullstory

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults.
const (
	DefaultPageSize        = 100
	MaxPageSize            = 1000
	DefaultSeed            = 1
	DefaultDeleteDelay     = 2 * time.Second
	DefaultRequestLogLimit = 10000
	// IdempotencyKeyTTL is how long a stored Idempotency-Key answer is
	// replayed, measured on the server's clock.
	IdempotencyKeyTTL = 24 * time.Hour
	// MaxGeneratedUsers bounds WithUsers + WithAnonymousUsers and the
	// seed admin route.
	MaxGeneratedUsers = 5_000_000
	// DefaultSCIMPageSize is the SCIM list count when a request has none;
	// DefaultSCIMMaxPageSize caps the count a request may ask for.
	DefaultSCIMPageSize    = 100
	DefaultSCIMMaxPageSize = 100
	// MaxSCIMPageSize bounds WithSCIMPageSize and WithSCIMMaxPageSize.
	MaxSCIMPageSize = 1000
)

type config struct {
	keys            map[string]Role
	pageSize        int
	seed            int64
	users, anon     int
	fixture         string
	stateFile       string
	clock           func() time.Time
	deleteDelay     time.Duration
	faults          Faults
	adminToken      string
	requestLogLimit int
	saveDelay       time.Duration
	logger          *slog.Logger
	scimTokens      [][sha256.Size]byte
	teammates       int
	scimPageSize    int
	scimMaxPageSize int
}

func defaultConfig() config {
	return config{
		keys:            map[string]Role{},
		pageSize:        DefaultPageSize,
		seed:            DefaultSeed,
		clock:           time.Now,
		deleteDelay:     DefaultDeleteDelay,
		requestLogLimit: DefaultRequestLogLimit,
		saveDelay:       time.Second,
		logger:          slog.New(slog.DiscardHandler),
		scimPageSize:    DefaultSCIMPageSize,
		scimMaxPageSize: DefaultSCIMMaxPageSize,
	}
}

// Option configures a Server.
type Option func(*config) error

// WithAPIKey accepts key (sent as "Authorization: Basic <key>") with role.
// Repeatable. With no key configured at all the server accepts any
// non-empty key as an admin key.
func WithAPIKey(key string, role Role) Option {
	return func(c *config) error {
		if key == "" {
			return errors.New("API key must not be empty")
		}
		if _, err := ParseRole(string(role)); err != nil {
			return err
		}
		c.keys[key] = role
		return nil
	}
}

// WithPageSize sets the number of users per list page (1..MaxPageSize;
// default 100).
func WithPageSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxPageSize {
			return fmt.Errorf("page size %d out of range 1..%d", n, MaxPageSize)
		}
		c.pageSize = n
		return nil
	}
}

// WithSeed seeds generated users, user ids, page-token keys and the fault
// RNG (default 1).
func WithSeed(seed int64) Option {
	return func(c *config) error { c.seed = seed; return nil }
}

// WithUsers generates n identified users at start.
func WithUsers(n int) Option {
	return func(c *config) error {
		if n < 0 || n > MaxGeneratedUsers {
			return fmt.Errorf("users %d out of range 0..%d", n, MaxGeneratedUsers)
		}
		c.users = n
		return nil
	}
}

// WithAnonymousUsers generates m anonymous users (no uid, email or display
// name) at start.
func WithAnonymousUsers(m int) Option {
	return func(c *config) error {
		if m < 0 || m > MaxGeneratedUsers {
			return fmt.Errorf("anonymous users %d out of range 0..%d", m, MaxGeneratedUsers)
		}
		c.anon = m
		return nil
	}
}

// WithFixtureFile loads users from a JSON file at start: an array of User
// or {"records":[User...]}. Users without an id get one.
func WithFixtureFile(path string) Option {
	return func(c *config) error { c.fixture = path; return nil }
}

// WithStateFile persists the users to path (atomically, shortly after each
// change and on Close) and, when the file exists at start, loads it
// instead of generating users or reading the fixture.
func WithStateFile(path string) Option {
	return func(c *config) error { c.stateFile = path; return nil }
}

// WithClock replaces time.Now for deletion delays, idempotency expiry and
// the rate limiter.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("clock must not be nil")
		}
		c.clock = now
		return nil
	}
}

// WithDeleteDelay sets how long a deleted user stays listed with
// is_being_deleted=true before it disappears (default 2s; 0 removes at
// once).
func WithDeleteDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("delete delay must not be negative")
		}
		c.deleteDelay = d
		return nil
	}
}

// WithFaults sets the initial fault injection.
func WithFaults(f Faults) Option {
	return func(c *config) error {
		if err := f.Validate(); err != nil {
			return fmt.Errorf("faults: %w", err)
		}
		c.faults = f
		return nil
	}
}

// WithAdminToken requires "Authorization: Bearer <tok>" on /_simulator/
// routes (healthz aside).
func WithAdminToken(tok string) Option {
	return func(c *config) error { c.adminToken = tok; return nil }
}

// WithRequestLogLimit bounds the request log (default 10000 entries; the
// oldest are dropped).
func WithRequestLogLimit(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errors.New("request log limit must be positive")
		}
		c.requestLogLimit = n
		return nil
	}
}

// WithLogger receives the simulator's own log lines: state-file saves and
// failures, and every API request at Debug level. The default discards
// them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("logger must not be nil")
		}
		c.logger = l
		return nil
	}
}

// WithSCIMToken accepts token on the SCIM API (sent as "Authorization:
// Bearer <token>"). Repeatable. With no SCIM token configured at all the
// SCIM API accepts any non-empty bearer token (SCIMOpenMode), as the v2
// API does with API keys.
func WithSCIMToken(token string) Option {
	return func(c *config) error {
		if token == "" {
			return errors.New("SCIM token must not be empty")
		}
		c.scimTokens = append(c.scimTokens, sha256.Sum256([]byte(token)))
		return nil
	}
}

// WithTeammates generates n SCIM teammates at start (see Teammate),
// derived from the seed.
func WithTeammates(n int) Option {
	return func(c *config) error {
		if n < 0 || n > MaxGeneratedTeammates {
			return fmt.Errorf("teammates %d out of range 0..%d", n, MaxGeneratedTeammates)
		}
		c.teammates = n
		return nil
	}
}

// WithSCIMPageSize sets the number of teammates a SCIM list page holds
// when the request has no count (1..MaxSCIMPageSize; default 100). It is
// capped by the maximum page size.
func WithSCIMPageSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxSCIMPageSize {
			return fmt.Errorf("SCIM page size %d out of range 1..%d", n, MaxSCIMPageSize)
		}
		c.scimPageSize = n
		return nil
	}
}

// WithSCIMMaxPageSize caps the count a SCIM list request may ask for
// (1..MaxSCIMPageSize; default 100): asked for more, the server answers
// fewer, as RFC 7644 allows. ServiceProviderConfig reports it as
// filter.maxResults.
func WithSCIMMaxPageSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxSCIMPageSize {
			return fmt.Errorf("SCIM max page size %d out of range 1..%d", n, MaxSCIMPageSize)
		}
		c.scimMaxPageSize = n
		return nil
	}
}

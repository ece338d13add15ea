package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
)

// apiKey is one --api-key value.
type apiKey struct {
	Key  string
	Role fssim.Role
}

// config is the parsed command line.
type config struct {
	Listen          string
	APIKeys         []apiKey
	Users           int
	AnonymousUsers  int
	Seed            int64
	PageSize        int
	Fixture         string
	StateFile       string
	DeleteDelay     time.Duration
	TLSCert         string
	TLSKey          string
	TLSSelfSigned   bool
	TLSHostnames    []string
	CAOut           string
	Latency         time.Duration
	RateLimitRPS    int
	ErrorRate       float64
	DropRate        float64
	AdminToken      string
	RequestLogLimit int
	Verbose         bool
	SCIMTokens      []string
	Teammates       int
	SCIMPageSize    int
	SCIMMaxPageSize int
}

// keyList is the repeatable --api-key KEY[:ROLE]. Set never fails: the
// flag package would quote the value, a secret, in its message; the first
// error is kept in err and reported without the key.
type keyList struct {
	keys *[]apiKey
	src  string // "--api-key" or the environment variable
	err  error
}

func (k *keyList) String() string {
	if k == nil || k.keys == nil || len(*k.keys) == 0 {
		return ""
	}
	return fmt.Sprintf("%d key(s)", len(*k.keys)) // never print keys
}

func (k *keyList) Set(v string) error {
	key, role := v, fssim.RoleAdmin
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		r, err := fssim.ParseRole(v[i+1:])
		if err != nil {
			k.fail(err)
			return nil
		}
		key, role = v[:i], r
	}
	if key == "" {
		k.fail(errors.New("empty API key"))
		return nil
	}
	*k.keys = append(*k.keys, apiKey{Key: key, Role: role})
	return nil
}

func (k *keyList) fail(err error) {
	if k.err == nil {
		k.err = usagef("%s: %v", k.src, err)
	}
}

// secretList is a repeatable flag of secrets (--scim-token). Like
// keyList, it never prints its values and never fails in Set (the flag
// package would quote the value in its message).
type secretList struct {
	vals *[]string
	src  string
	err  error
}

func (s *secretList) String() string {
	if s == nil || s.vals == nil || len(*s.vals) == 0 {
		return ""
	}
	return fmt.Sprintf("%d token(s)", len(*s.vals)) // never print tokens
}

func (s *secretList) Set(v string) error {
	if v = strings.TrimSpace(v); v == "" {
		if s.err == nil {
			s.err = usagef("%s: empty token", s.src)
		}
		return nil
	}
	*s.vals = append(*s.vals, v)
	return nil
}

// stringList is a repeatable flag whose default is replaced by the first
// value given.
type stringList struct {
	vals    *[]string
	changed bool
}

func (s *stringList) String() string {
	if s.vals == nil {
		return ""
	}
	return strings.Join(*s.vals, ",")
}

func (s *stringList) Set(v string) error {
	if !s.changed {
		*s.vals = nil
		s.changed = true
	}
	if v = strings.TrimSpace(v); v == "" {
		return errors.New("empty value")
	}
	*s.vals = append(*s.vals, v)
	return nil
}

// repeatable flags take a comma-separated list from the environment.
var repeatable = map[string]bool{"api-key": true, "tls-hostname": true, "scim-token": true}

func parseConfig(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (*config, error) {
	c := &config{TLSHostnames: []string{"localhost", "127.0.0.1", "::1"}}
	scimTokens := &secretList{vals: &c.SCIMTokens, src: "--scim-token"}
	fs := flag.NewFlagSet("fullstory-simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8089", "address to listen on")
	keys := &keyList{keys: &c.APIKeys, src: "--api-key"}
	fs.Var(keys, "api-key", "accepted API key as KEY[:ROLE], ROLE admin (default), architect or standard (a key containing ':' needs an explicit role); repeatable. With none, any key is accepted as admin")
	fs.IntVar(&c.Users, "users", 50, "identified users to generate at start")
	fs.IntVar(&c.AnonymousUsers, "anonymous-users", 10, "anonymous users to generate at start")
	fs.Int64Var(&c.Seed, "seed", fssim.DefaultSeed, "seed for generated users, ids, page tokens and faults")
	fs.IntVar(&c.PageSize, "page-size", fssim.DefaultPageSize, fmt.Sprintf("users per list page (1..%d)", fssim.MaxPageSize))
	fs.StringVar(&c.Fixture, "fixture", "", "JSON file of users to load at start (array of users or {\"records\":[...]})")
	fs.StringVar(&c.StateFile, "state-file", "", "persist users to this file; loaded instead of generated users when it exists")
	fs.DurationVar(&c.DeleteDelay, "delete-delay", fssim.DefaultDeleteDelay, "how long a deleted user stays listed with is_being_deleted=true")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate (needs --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.BoolVar(&c.TLSSelfSigned, "tls-self-signed", false, "serve HTTPS with a generated CA and server certificate")
	fs.Var(&stringList{vals: &c.TLSHostnames}, "tls-hostname", "DNS name or IP for the self-signed certificate; repeatable (default localhost, 127.0.0.1, ::1)")
	fs.StringVar(&c.CAOut, "ca-out", "", "write the self-signed CA certificate (PEM) to this path")
	fs.DurationVar(&c.Latency, "latency", 0, "added latency per API request, e.g. 20ms")
	fs.IntVar(&c.RateLimitRPS, "rate-limit-rps", 0, "API requests allowed per second before 429 with Retry-After (0: unlimited)")
	fs.Float64Var(&c.ErrorRate, "error-rate", 0, "share of API requests answered 500/503, 0..1")
	fs.Float64Var(&c.DropRate, "drop-rate", 0, "share of API requests whose connection is closed without an answer, 0..1")
	fs.StringVar(&c.AdminToken, "admin-token", "", "require Authorization: Bearer TOKEN on /_simulator/ routes (healthz aside)")
	fs.IntVar(&c.RequestLogLimit, "request-log-limit", fssim.DefaultRequestLogLimit, "entries kept in the request log")
	fs.BoolVar(&c.Verbose, "verbose", false, "log every API request to stderr")
	fs.Var(scimTokens, "scim-token", "accepted SCIM bearer token (Authorization: Bearer TOKEN on /scim/v2); repeatable. With none, any non-empty token is accepted")
	fs.IntVar(&c.Teammates, "teammates", 20, "SCIM teammates to generate at start")
	fs.IntVar(&c.SCIMPageSize, "scim-page-size", fssim.DefaultSCIMPageSize, fmt.Sprintf("teammates per SCIM list page when the request has no count (1..%d)", fssim.MaxSCIMPageSize))
	fs.IntVar(&c.SCIMMaxPageSize, "scim-max-page-size", fssim.DefaultSCIMMaxPageSize, fmt.Sprintf("most teammates a SCIM list page holds, whatever count asks (1..%d)", fssim.MaxSCIMPageSize))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fullstory-simulator [flags]\n\nA fake of Fullstory's v2 Users API and its SCIM 2.0 teammates API (/scim/v2). Every flag can also be set as %s<FLAG> (dashes as underscores).\n\n", envPrefix)
		fs.PrintDefaults()
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := lookupEnv(name)
		if !ok {
			return
		}
		keys.src = name
		scimTokens.src = name
		vals := []string{v}
		if repeatable[f.Name] {
			vals = strings.Split(v, ",")
		}
		for _, one := range vals {
			if err := f.Value.Set(one); err != nil {
				envErr = usagef("%s: %v", name, err)
				return
			}
		}
		set[f.Name] = true
	})
	if envErr != nil {
		return nil, envErr
	}
	if keys.err != nil {
		return nil, keys.err
	}
	if scimTokens.err != nil {
		return nil, scimTokens.err
	}
	if err := c.validate(set); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *config) validate(set map[string]bool) error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return usagef("--listen %q: want HOST:PORT", c.Listen)
	}
	switch {
	case c.Users < 0:
		return usagef("--users must not be negative")
	case c.AnonymousUsers < 0:
		return usagef("--anonymous-users must not be negative")
	case c.Users+c.AnonymousUsers > fssim.MaxGeneratedUsers:
		return usagef("--users + --anonymous-users must be at most %d", fssim.MaxGeneratedUsers)
	case c.PageSize < 1 || c.PageSize > fssim.MaxPageSize:
		return usagef("--page-size must be between 1 and %d", fssim.MaxPageSize)
	case c.DeleteDelay < 0:
		return usagef("--delete-delay must not be negative")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return usagef("--tls-cert and --tls-key go together")
	case c.TLSSelfSigned && c.TLSCert != "":
		return usagef("--tls-self-signed and --tls-cert exclude each other")
	case c.CAOut != "" && !c.TLSSelfSigned:
		return usagef("--ca-out needs --tls-self-signed")
	case set["tls-hostname"] && !c.TLSSelfSigned:
		return usagef("--tls-hostname needs --tls-self-signed")
	case c.Latency < 0:
		return usagef("--latency must not be negative")
	case c.RateLimitRPS < 0:
		return usagef("--rate-limit-rps must not be negative")
	case !(c.ErrorRate >= 0 && c.ErrorRate <= 1):
		return usagef("--error-rate must be between 0 and 1")
	case !(c.DropRate >= 0 && c.DropRate <= 1):
		return usagef("--drop-rate must be between 0 and 1")
	case c.ErrorRate+c.DropRate > 1:
		return usagef("--error-rate + --drop-rate must be at most 1")
	case c.RequestLogLimit < 1:
		return usagef("--request-log-limit must be positive")
	case c.Teammates < 0 || c.Teammates > fssim.MaxGeneratedTeammates:
		return usagef("--teammates must be between 0 and %d", fssim.MaxGeneratedTeammates)
	case c.SCIMPageSize < 1 || c.SCIMPageSize > fssim.MaxSCIMPageSize:
		return usagef("--scim-page-size must be between 1 and %d", fssim.MaxSCIMPageSize)
	case c.SCIMMaxPageSize < 1 || c.SCIMMaxPageSize > fssim.MaxSCIMPageSize:
		return usagef("--scim-max-page-size must be between 1 and %d", fssim.MaxSCIMPageSize)
	}
	return nil
}

// options turns the configuration into library options.
func (c *config) options() []fssim.Option {
	opts := []fssim.Option{
		fssim.WithSeed(c.Seed),
		fssim.WithUsers(c.Users),
		fssim.WithAnonymousUsers(c.AnonymousUsers),
		fssim.WithPageSize(c.PageSize),
		fssim.WithDeleteDelay(c.DeleteDelay),
		fssim.WithFaults(fssim.Faults{Latency: c.Latency, RateLimitRPS: c.RateLimitRPS, ErrorRate: c.ErrorRate, DropRate: c.DropRate}),
		fssim.WithRequestLogLimit(c.RequestLogLimit),
		fssim.WithTeammates(c.Teammates),
		fssim.WithSCIMPageSize(c.SCIMPageSize),
		fssim.WithSCIMMaxPageSize(c.SCIMMaxPageSize),
	}
	for _, tok := range c.SCIMTokens {
		opts = append(opts, fssim.WithSCIMToken(tok))
	}
	for _, k := range c.APIKeys {
		opts = append(opts, fssim.WithAPIKey(k.Key, k.Role))
	}
	if c.Fixture != "" {
		opts = append(opts, fssim.WithFixtureFile(c.Fixture))
	}
	if c.StateFile != "" {
		opts = append(opts, fssim.WithStateFile(c.StateFile))
	}
	if c.AdminToken != "" {
		opts = append(opts, fssim.WithAdminToken(c.AdminToken))
	}
	return opts
}

func loadKeyPair(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

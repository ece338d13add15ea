package fullstory

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"
)

// Limits the simulator puts on teammate attributes (Fullstory publishes
// none; these are generous and keep the store bounded).
const (
	maxSCIMStringLen = 256 // userName, externalId, displayName, name parts, email type
	maxSCIMEmailLen  = 254
	maxSCIMEmails    = 32
	maxPatchOps      = 100
)

const (
	scimUsersPath = SCIMPathPrefix + "/Users"
	scimSPCPath   = SCIMPathPrefix + "/ServiceProviderConfig"
)

// scimRoutes mounts the SCIM service under SCIMPathPrefix. It has its own
// router so that unknown routes and wrong methods below the prefix answer
// in SCIM's error schema, and every request below it needs the bearer
// token first.
func (s *Server) scimRoutes(r *mux.Router) {
	sr := mux.NewRouter()
	sr.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeSCIMError(w, scimErrorf(http.StatusNotFound, "", "no SCIM route for %s %s", r.Method, r.URL.Path))
	})
	sr.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeSCIMError(w, scimErrorf(http.StatusMethodNotAllowed, "", "method %s not allowed on %s", r.Method, r.URL.Path))
	})
	sr.Handle(scimUsersPath, scimHandler(s.scimListUsers)).Methods(http.MethodGet)
	sr.Handle(scimUsersPath, scimHandler(s.scimCreateUser)).Methods(http.MethodPost)
	sr.Handle(scimUsersPath+"/{id}", scimHandler(s.scimGetUser)).Methods(http.MethodGet)
	sr.Handle(scimUsersPath+"/{id}", scimHandler(s.scimReplaceUser)).Methods(http.MethodPut)
	sr.Handle(scimUsersPath+"/{id}", scimHandler(s.scimPatchUser)).Methods(http.MethodPatch)
	sr.Handle(scimUsersPath+"/{id}", scimHandler(s.scimDeleteUser)).Methods(http.MethodDelete)
	sr.Handle(scimSPCPath, scimHandler(s.scimServiceProviderConfig)).Methods(http.MethodGet)
	r.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool { return isSCIMPath(r.URL.Path) }).
		Handler(s.scimAuth(sr))
}

// scimHandlerFunc writes a success answer itself or returns an error for
// writeSCIMError to render; it never writes after an error.
type scimHandlerFunc func(w http.ResponseWriter, r *http.Request) error

func scimHandler(h scimHandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeSCIMError(w, err)
		}
	})
}

// scimAuth checks "Authorization: Bearer <token>" against the SCIM tokens
// (their SHA-256 digests, in constant time). With none configured, any
// non-empty token is accepted (SCIMOpenMode), the rule the v2 API applies
// to API keys.
func (s *Server) scimAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			writeSCIMError(w, scimErrorf(http.StatusUnauthorized, "", "missing or malformed Authorization header; want \"Bearer <SCIM token>\""))
			return
		}
		if !s.scimTokenOK(tok) {
			writeSCIMError(w, scimErrorf(http.StatusUnauthorized, "", "invalid SCIM token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) scimTokenOK(tok string) bool {
	if len(s.cfg.scimTokens) == 0 {
		return true
	}
	sum := sha256.Sum256([]byte(tok))
	ok := 0
	for _, want := range s.cfg.scimTokens {
		ok |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return ok == 1
}

// SCIMOpenMode reports whether no SCIM token is configured (any non-empty
// bearer token is accepted on /scim/v2).
func (s *Server) SCIMOpenMode() bool { return len(s.cfg.scimTokens) == 0 }

// Teammates returns every teammate, sorted by id.
func (s *Server) Teammates() []Teammate {
	ts := s.tm.all()
	out := make([]Teammate, len(ts))
	for i, t := range ts {
		out[i] = t.clone()
	}
	return out
}

// PutTeammate stores t whole and returns it as stored. Without an id it
// replaces the teammate with the same userName (case-insensitively), or
// gets a new id; with an id it replaces or creates that teammate. Schemas,
// meta.resourceType and meta.location are set by the server; a zero
// meta.created keeps the replaced teammate's (else now) and a zero
// meta.lastModified becomes now. A userName that belongs to another
// teammate is an error.
func (s *Server) PutTeammate(t Teammate) (Teammate, error) {
	c := t.clone()
	normalizeTeammate(&c)
	if c.ID != "" && !validID(c.ID) {
		return Teammate{}, scimErrorf(http.StatusBadRequest, scimInvalidValue, "invalid teammate id %q", truncate(c.ID, 64))
	}
	if err := validateTeammate(&c); err != nil {
		return Teammate{}, err
	}
	ts, err := s.tm.put([]*Teammate{&c}, s.now())
	if err != nil {
		return Teammate{}, err
	}
	s.changed()
	return ts[0].clone(), nil
}

// SeedTeammates adds n teammates generated from seed (a teammate whose
// userName exists replaces it, so seeding twice with one seed is
// idempotent) and returns the number of teammates in the store.
func (s *Server) SeedTeammates(seed int64, n int) (int, error) {
	if n < 0 || n > MaxGeneratedTeammates {
		return 0, invalidf("teammates must be between 0 and %d", MaxGeneratedTeammates)
	}
	if _, err := s.tm.put(generateTeammates(seed, n), s.now()); err != nil {
		return 0, err
	}
	s.changed()
	return s.tm.count(), nil
}

func teammateLocation(id string) string { return SCIMLocationPrefix + id }

// normalizeTeammate drops empty optional values: a name with no part and
// an empty email list become absent.
func normalizeTeammate(t *Teammate) {
	if t.Name != nil && *t.Name == (TeammateName{}) {
		t.Name = nil
	}
	if len(t.Emails) == 0 {
		t.Emails = nil
	}
}

// validateTeammate checks what the store relies on: a userName, valid
// UTF-8 everywhere (so the JSON form round-trips), the length limits,
// email values and at most one primary email.
func validateTeammate(t *Teammate) error {
	if strings.TrimSpace(t.UserName) == "" {
		return scimErrorf(http.StatusBadRequest, scimInvalidValue, "userName is required")
	}
	for _, f := range []struct{ name, v string }{
		{"userName", t.UserName}, {"externalId", t.ExternalID}, {"displayName", t.DisplayName},
	} {
		if err := checkSCIMString(f.name, f.v, maxSCIMStringLen); err != nil {
			return err
		}
	}
	if t.Name != nil {
		for _, f := range []struct{ name, v string }{
			{"name.givenName", t.Name.GivenName}, {"name.familyName", t.Name.FamilyName}, {"name.formatted", t.Name.Formatted},
		} {
			if err := checkSCIMString(f.name, f.v, maxSCIMStringLen); err != nil {
				return err
			}
		}
	}
	if len(t.Emails) > maxSCIMEmails {
		return scimErrorf(http.StatusBadRequest, scimInvalidValue, "%d emails; the limit is %d", len(t.Emails), maxSCIMEmails)
	}
	primaries := 0
	for i, e := range t.Emails {
		if strings.TrimSpace(e.Value) == "" {
			return scimErrorf(http.StatusBadRequest, scimInvalidValue, "emails[%d].value is required", i)
		}
		if err := checkSCIMString("emails.value", e.Value, maxSCIMEmailLen); err != nil {
			return err
		}
		if err := checkSCIMString("emails.type", e.Type, maxSCIMStringLen); err != nil {
			return err
		}
		if e.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		return scimErrorf(http.StatusBadRequest, scimInvalidValue, "%d emails have primary true; at most one may", primaries)
	}
	return nil
}

func checkSCIMString(name, v string, limit int) error {
	if !utf8.ValidString(v) {
		return scimErrorf(http.StatusBadRequest, scimInvalidValue, "%s is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return scimErrorf(http.StatusBadRequest, scimInvalidValue, "%s is %d characters; the limit is %d", name, n, limit)
	}
	return nil
}

// scimListResponse is RFC 7644's ListResponse.
type scimListResponse struct {
	Schemas      []string    `json:"schemas"`
	TotalResults int         `json:"totalResults"`
	StartIndex   int         `json:"startIndex"`
	ItemsPerPage int         `json:"itemsPerPage"`
	Resources    []*Teammate `json:"Resources"`
}

// scimIntParam reads an integer query parameter; absent is def.
func scimIntParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, scimErrorf(http.StatusBadRequest, scimInvalidValue, "%s must be an integer, not %q", name, truncate(v, 32))
	}
	return n, nil
}

// scimListUsers answers GET /Users: 1-based startIndex (below 1 counts as
// 1), count (absent: the default page size; above the maximum page size:
// capped; negative: 0), optional filter userName eq "...", in id order.
func (s *Server) scimListUsers(w http.ResponseWriter, r *http.Request) error {
	startIndex, err := scimIntParam(r, "startIndex", 1)
	if err != nil {
		return err
	}
	count, err := scimIntParam(r, "count", s.cfg.scimPageSize)
	if err != nil {
		return err
	}
	startIndex = max(startIndex, 1)
	count = min(max(count, 0), s.cfg.scimMaxPageSize)
	var userName *string
	if f := strings.TrimSpace(r.URL.Query().Get("filter")); f != "" {
		u, err := parseUserNameFilter(f)
		if err != nil {
			return err
		}
		userName = &u
	}
	page, total := s.tm.list(userName, startIndex, count)
	if page == nil {
		page = []*Teammate{}
	}
	return writeSCIMJSON(w, http.StatusOK, scimListResponse{
		Schemas:      []string{SCIMListResponseSchema},
		TotalResults: total,
		StartIndex:   startIndex,
		ItemsPerPage: len(page),
		Resources:    page,
	})
}

func writeSCIMJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeSCIMBytes(w, status, append(b, '\n'))
	return nil
}

func (s *Server) scimGetUser(w http.ResponseWriter, r *http.Request) error {
	t, ok := s.tm.get(mux.Vars(r)["id"])
	if !ok {
		return errTeammateNotFound(mux.Vars(r)["id"])
	}
	return writeSCIMJSON(w, http.StatusOK, t)
}

// scimUserBody is the body of POST and PUT. Attribute names match
// case-insensitively (encoding/json does that), as SCIM wants; attributes
// the simulator does not keep (extensions, phoneNumbers, title...) are
// ignored, as IdPs send whole profiles.
type scimUserBody struct {
	Schemas     []string        `json:"schemas"`
	ID          *string         `json:"id"`
	ExternalID  *string         `json:"externalId"`
	UserName    *string         `json:"userName"`
	Name        *TeammateName   `json:"name"`
	DisplayName *string         `json:"displayName"`
	Emails      []TeammateEmail `json:"emails"`
	Active      json.RawMessage `json:"active"`
}

// readSCIMBody reads a request body sent as application/scim+json or
// application/json (or without a Content-Type) and decodes it into v,
// which must be a JSON object; unknown attributes are ignored.
func readSCIMBody(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != SCIMContentType && mt != "application/json") {
			return scimErrorf(http.StatusUnsupportedMediaType, "", "Content-Type %q is not supported; send %s or application/json", truncate(ct, 64), SCIMContentType)
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "request body is required")
	}
	if t[0] != '{' {
		return scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(v); err != nil {
		return scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "malformed JSON body: unexpected data after the object")
	}
	return nil
}

func hasSchema(schemas []string, want string) bool {
	for _, s := range schemas {
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

// teammateFromBody builds the teammate a POST or PUT asks for. active
// absent is def; it may be a boolean or the string "true"/"false" (sent by
// some IdPs).
func teammateFromBody(b *scimUserBody, def bool) (*Teammate, error) {
	if !hasSchema(b.Schemas, SCIMUserSchema) {
		return nil, scimErrorf(http.StatusBadRequest, scimInvalidSyntax, "schemas must contain %q", SCIMUserSchema)
	}
	if b.UserName == nil {
		return nil, scimErrorf(http.StatusBadRequest, scimInvalidValue, "userName is required")
	}
	t := &Teammate{UserName: *b.UserName, Name: b.Name, Emails: b.Emails, Active: def}
	if b.ExternalID != nil {
		t.ExternalID = *b.ExternalID
	}
	if b.DisplayName != nil {
		t.DisplayName = *b.DisplayName
	}
	if len(b.Active) > 0 && string(b.Active) != "null" {
		a, err := parseBoolish("active", b.Active)
		if err != nil {
			return nil, err
		}
		t.Active = a
	}
	normalizeTeammate(t)
	if err := validateTeammate(t); err != nil {
		return nil, err
	}
	return t, nil
}

// parseBoolish reads a JSON boolean or a string "true"/"false" (any case).
func parseBoolish(name string, raw json.RawMessage) (bool, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err == nil {
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(b)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
	}
	return false, scimErrorf(http.StatusBadRequest, scimInvalidValue, "%s must be a boolean, not %s", name, truncate(string(raw), 32))
}

// scimCreateUser answers POST /Users: 201 with the teammate and a
// Location header; 409 uniqueness when the userName is taken. active
// defaults to true; a client-sent id or meta is ignored.
func (s *Server) scimCreateUser(w http.ResponseWriter, r *http.Request) error {
	var b scimUserBody
	if err := readSCIMBody(w, r, &b); err != nil {
		return err
	}
	t, err := teammateFromBody(&b, true)
	if err != nil {
		return err
	}
	created, err := s.tm.create(t, s.now())
	if err != nil {
		return err
	}
	s.changed()
	w.Header().Set("Location", created.Meta.Location)
	return writeSCIMJSON(w, http.StatusCreated, created)
}

// scimReplaceUser answers PUT /Users/{id}: every attribute is replaced by
// the body's (absent ones are cleared) except active, which keeps its
// value when absent. An id in the body must be the path's.
func (s *Server) scimReplaceUser(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	var b scimUserBody
	if err := readSCIMBody(w, r, &b); err != nil {
		return err
	}
	if b.ID != nil && *b.ID != id {
		return scimErrorf(http.StatusBadRequest, scimMutability, "id %q in the body differs from %q in the path", truncate(*b.ID, 64), truncate(id, 64))
	}
	t, err := s.tm.modify(id, s.now(), func(old *Teammate) (*Teammate, error) {
		t, err := teammateFromBody(&b, old.Active)
		if err != nil {
			return nil, err
		}
		t.Meta = old.Meta
		return t, nil
	})
	if err != nil {
		return err
	}
	s.changed()
	return writeSCIMJSON(w, http.StatusOK, t)
}

// scimPatchUser answers PATCH /Users/{id} with the patched teammate (200).
// The operations apply all or nothing.
func (s *Server) scimPatchUser(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	var b patchBody
	if err := readSCIMBody(w, r, &b); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	t, err := s.tm.modify(id, s.now(), func(old *Teammate) (*Teammate, error) {
		return applyPatch(old, b.Operations)
	})
	if err != nil {
		return err
	}
	s.changed()
	return writeSCIMJSON(w, http.StatusOK, t)
}

// scimDeleteUser answers DELETE /Users/{id}: 204 without a body; the
// teammate is gone (404 afterwards).
func (s *Server) scimDeleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.tm.remove(mux.Vars(r)["id"]); err != nil {
		return err
	}
	s.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type scimSupported struct {
	Supported bool `json:"supported"`
}

type scimSPC struct {
	Schemas []string      `json:"schemas"`
	Patch   scimSupported `json:"patch"`
	Bulk    struct {
		Supported      bool `json:"supported"`
		MaxOperations  int  `json:"maxOperations"`
		MaxPayloadSize int  `json:"maxPayloadSize"`
	} `json:"bulk"`
	Filter struct {
		Supported  bool `json:"supported"`
		MaxResults int  `json:"maxResults"`
	} `json:"filter"`
	ChangePassword        scimSupported    `json:"changePassword"`
	Sort                  scimSupported    `json:"sort"`
	ETag                  scimSupported    `json:"etag"`
	AuthenticationSchemes []scimAuthScheme `json:"authenticationSchemes"`
	Meta                  struct {
		ResourceType string `json:"resourceType"`
		Location     string `json:"location"`
	} `json:"meta"`
}

type scimAuthScheme struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
	SpecURI     string `json:"specUri"`
	Primary     bool   `json:"primary"`
}

// scimServiceProviderConfig answers GET /ServiceProviderConfig: PATCH and
// filter (maxResults = the maximum page size) supported; bulk, sort,
// etag and changePassword not; OAuth bearer token authentication.
func (s *Server) scimServiceProviderConfig(w http.ResponseWriter, _ *http.Request) error {
	var c scimSPC
	c.Schemas = []string{SCIMServiceProviderConfigSchema}
	c.Patch.Supported = true
	c.Filter.Supported = true
	c.Filter.MaxResults = s.cfg.scimMaxPageSize
	c.AuthenticationSchemes = []scimAuthScheme{{
		Type:        "oauthbearertoken",
		Name:        "OAuth Bearer Token",
		Description: "Authentication with the SCIM token generated in Fullstory's SSO settings, sent as \"Authorization: Bearer <token>\"",
		SpecURI:     "https://www.rfc-editor.org/info/rfc6750",
		Primary:     true,
	}}
	c.Meta.ResourceType = "ServiceProviderConfig"
	c.Meta.Location = "https://app.fullstory.com" + scimSPCPath
	return writeSCIMJSON(w, http.StatusOK, c)
}

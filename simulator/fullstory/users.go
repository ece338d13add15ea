package fullstory

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/mux"
)

const usersPath = "/v2/users"

// principal is the caller of an API route.
type principal struct {
	key  string
	role Role
}

// apiHandlerFunc writes a success answer itself or returns an error for
// writeError to render; it never writes after an error.
type apiHandlerFunc func(w http.ResponseWriter, r *http.Request, p principal) error

func (s *Server) usersRoutes(r *mux.Router) {
	r.Handle(usersPath, s.auth(false, s.listUsers)).Methods(http.MethodGet)
	r.Handle(usersPath, s.auth(true, s.idempotent(s.createUser))).Methods(http.MethodPost)
	r.Handle(usersPath, s.auth(false, s.deleteUserByUID)).Methods(http.MethodDelete)
	r.Handle(usersPath+"/{id}", s.auth(false, s.getUser)).Methods(http.MethodGet)
	r.Handle(usersPath+"/{id}", s.auth(true, s.idempotent(s.updateUser))).Methods(http.MethodPost)
	r.Handle(usersPath+"/{id}", s.auth(false, s.deleteUser)).Methods(http.MethodDelete)
}

// auth checks "Authorization: Basic <key>" and the key's role: a standard
// key is let through only when standardOK.
func (s *Server) auth(standardOK bool, h apiHandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		key = strings.TrimSpace(key)
		if !strings.EqualFold(scheme, "Basic") || key == "" {
			writeError(w, errorf(http.StatusUnauthorized, CodeUnauthorized, "missing or malformed Authorization header; want \"Basic <API key>\""))
			return
		}
		role, ok := s.keyRole(key)
		if !ok {
			writeError(w, errorf(http.StatusUnauthorized, CodeUnauthorized, "invalid API key"))
			return
		}
		if !standardOK && !role.canRead() {
			writeError(w, errorf(http.StatusForbidden, CodeForbidden, "an API key with the %s role may not %s %s", role, r.Method, r.URL.Path))
			return
		}
		if err := h(w, r, principal{key: key, role: role}); err != nil {
			writeError(w, err)
		}
	})
}

func boolParam(q url.Values, name string) (*bool, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, invalidf("%s must be true or false, not %q", name, truncate(v, 32))
	}
	return &b, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ principal) error {
	q := r.URL.Query()
	lq := listQuery{
		uid:         q.Get("uid"),
		email:       q.Get("email"),
		displayName: q.Get("display_name"),
		limit:       s.cfg.pageSize,
	}
	var err error
	if lq.identified, err = boolParam(q, "is_identified"); err != nil {
		return err
	}
	schema, err := boolParam(q, "include_schema")
	if err != nil {
		return err
	}
	fh := filterHash(&lq)
	if tok := q.Get("page_token"); tok != "" {
		if lq.after, err = s.decodePageToken(tok, fh); err != nil {
			return err
		}
	}
	res := s.st.list(lq, s.now())

	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 4<<20 {
			bufPool.Put(bp)
		}
	}()
	buf := append((*bp)[:0], `{"results":[`...)
	for i, rc := range res.page {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendUser(buf, rc, encodeOpts{
			schema: schema != nil && *schema,
			appURL: rc.uid != "" || rc.email != "",
		})
	}
	buf = append(buf, `],"total_records":`...)
	buf = appendQuotedInt(buf, res.total)
	if res.more {
		buf = append(buf, `,"next_page_token":`...)
		buf = appendJSONString(buf, s.encodePageToken(fh, res.page[len(res.page)-1].id))
	}
	buf = append(buf, '}', '\n')
	*bp = buf
	writeJSONBytes(w, http.StatusOK, buf)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ principal) error {
	schema, err := boolParam(r.URL.Query(), "include_schema")
	if err != nil {
		return err
	}
	rc, ok := s.st.get(mux.Vars(r)["id"], s.now())
	if !ok {
		return errUserNotFound
	}
	buf := appendUser(make([]byte, 0, 1024), rc, encodeOpts{schema: schema != nil && *schema, appURL: true})
	writeJSONBytes(w, http.StatusOK, append(buf, '\n'))
	return nil
}

func writeID(w http.ResponseWriter, id string) {
	buf := appendJSONString(append(make([]byte, 0, 32+len(id)), `{"id":`...), id)
	writeJSONBytes(w, http.StatusOK, append(buf, "}\n"...))
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, _ principal) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	in, err := parseUserBody(body)
	if err != nil {
		return err
	}
	id, err := s.st.create(in, s.now())
	if err != nil {
		return err
	}
	s.changed()
	writeID(w, id)
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, _ principal) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	in, err := parseUserBody(body)
	if err != nil {
		return err
	}
	id, err := s.st.update(mux.Vars(r)["id"], in, s.now())
	if err != nil {
		return err
	}
	s.changed()
	writeID(w, id)
	return nil
}

var emptyObject = []byte("{}\n")

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, _ principal) error {
	if err := s.st.remove(mux.Vars(r)["id"], "", s.now(), s.cfg.deleteDelay); err != nil {
		return err
	}
	s.changed()
	writeJSONBytes(w, http.StatusOK, emptyObject)
	return nil
}

func (s *Server) deleteUserByUID(w http.ResponseWriter, r *http.Request, _ principal) error {
	uid := r.URL.Query().Get("uid")
	if uid == "" {
		return errorf(http.StatusBadRequest, CodeRequiredField, "uid is required")
	}
	if err := s.st.remove("", uid, s.now(), s.cfg.deleteDelay); err != nil {
		return err
	}
	s.changed()
	writeJSONBytes(w, http.StatusOK, emptyObject)
	return nil
}

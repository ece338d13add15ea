package fullstory

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

const adminPrefix = "/_simulator"

// adminRoutes registers the control API. Every route but healthz requires
// the admin token when one is configured.
func (s *Server) adminRoutes(r *mux.Router) {
	r.HandleFunc(adminPrefix+"/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONBytes(w, http.StatusOK, []byte("{\"status\":\"ok\"}\n"))
	}).Methods(http.MethodGet)
	r.Handle(adminPrefix+"/users", s.adminAuth(s.adminUsers)).Methods(http.MethodGet)
	r.Handle(adminPrefix+"/teammates", s.adminAuth(s.adminTeammates)).Methods(http.MethodGet)
	r.Handle(adminPrefix+"/reset", s.adminAuth(s.adminReset)).Methods(http.MethodPost)
	r.Handle(adminPrefix+"/seed", s.adminAuth(s.adminSeed)).Methods(http.MethodPost)
	r.Handle(adminPrefix+"/faults", s.adminAuth(s.adminGetFaults)).Methods(http.MethodGet)
	r.Handle(adminPrefix+"/faults", s.adminAuth(s.adminPutFaults)).Methods(http.MethodPut)
	r.Handle(adminPrefix+"/requests", s.adminAuth(s.adminGetRequests)).Methods(http.MethodGet)
	r.Handle(adminPrefix+"/requests", s.adminAuth(s.adminDeleteRequests)).Methods(http.MethodDelete)
}

type adminHandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) adminAuth(h adminHandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.adminToken != "" {
			scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") ||
				subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.adminToken)) != 1 {
				writeError(w, errorf(http.StatusUnauthorized, CodeUnauthorized, "admin routes need \"Authorization: Bearer <admin token>\""))
				return
			}
		}
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	})
}

func writeJSONValue(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeJSONBytes(w, http.StatusOK, append(b, '\n'))
	return nil
}

// adminUsers answers the JSON form of Users().
func (s *Server) adminUsers(w http.ResponseWriter, _ *http.Request) error {
	rs := s.st.all(s.now())
	buf := make([]byte, 0, 512*len(rs)+16)
	buf = append(buf, '[')
	for i, r := range rs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendUser(buf, r, encodeOpts{appURL: true, declared: true})
	}
	buf = append(buf, "]\n"...)
	writeJSONBytes(w, http.StatusOK, buf)
	return nil
}

func (s *Server) adminReset(w http.ResponseWriter, _ *http.Request) error {
	s.Reset()
	writeJSONBytes(w, http.StatusOK, emptyObject)
	return nil
}

type seedRequest struct {
	Users           int        `json:"users"`
	AnonymousUsers  int        `json:"anonymous_users"`
	Seed            *int64     `json:"seed"`
	Records         []User     `json:"records"`
	Teammates       int        `json:"teammates"`
	TeammateRecords []Teammate `json:"teammate_records"`
}

// adminTeammates answers the JSON form of Teammates().
func (s *Server) adminTeammates(w http.ResponseWriter, _ *http.Request) error {
	ts := s.tm.all()
	if ts == nil {
		ts = []*Teammate{}
	}
	return writeJSONValue(w, ts)
}

// adminSeed adds generated users and/or records; it answers {"total":N},
// the number of users in the store afterwards. When the request seeds
// teammates (generated or teammate_records) the answer also holds
// "teammates", the number of teammates afterwards.
func (s *Server) adminSeed(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var req seedRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return invalidf("malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidf("malformed JSON body: unexpected data after the object")
	}
	now := s.now()
	if len(req.Records) > 0 {
		if err := s.putUsers(req.Records, now); err != nil {
			s.changed()
			return err
		}
		s.changed()
	}
	total := 0
	if req.Users != 0 || req.AnonymousUsers != 0 {
		seed := s.cfg.seed
		if req.Seed != nil {
			seed = *req.Seed
		}
		if total, err = s.Seed(seed, req.Users, req.AnonymousUsers); err != nil {
			return err
		}
	} else {
		total = s.st.count(now)
	}
	if req.Teammates == 0 && len(req.TeammateRecords) == 0 {
		writeJSONBytes(w, http.StatusOK, []byte(`{"total":`+strconv.Itoa(total)+"}\n"))
		return nil
	}
	for i, t := range req.TeammateRecords {
		if _, err := s.PutTeammate(t); err != nil {
			se := asSCIMError(err)
			return errorf(se.Status, seedErrorCode(se.Status), "teammate_records[%d]: %s", i, se.Detail)
		}
	}
	if req.Teammates != 0 {
		seed := s.cfg.seed
		if req.Seed != nil {
			seed = *req.Seed
		}
		if _, err := s.SeedTeammates(seed, req.Teammates); err != nil {
			return err
		}
	}
	writeJSONBytes(w, http.StatusOK, []byte(`{"total":`+strconv.Itoa(total)+`,"teammates":`+strconv.Itoa(s.tm.count())+"}\n"))
	return nil
}

// seedErrorCode is the admin API's error code for a teammate record
// rejected with status.
func seedErrorCode(status int) string {
	if status == http.StatusConflict {
		return CodeConflict
	}
	return CodeInvalidArgument
}

func (s *Server) adminGetFaults(w http.ResponseWriter, _ *http.Request) error {
	return writeJSONValue(w, s.Faults())
}

func (s *Server) adminPutFaults(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var raw faultsJSON
	if err := dec.Decode(&raw); err != nil {
		return invalidf("malformed JSON body: %v", err)
	}
	f, err := raw.faults()
	if err != nil {
		return invalidf("%v", err)
	}
	if err := f.Validate(); err != nil {
		return invalidf("%v", err)
	}
	s.SetFaults(f)
	return writeJSONValue(w, s.Faults())
}

func (s *Server) adminGetRequests(w http.ResponseWriter, _ *http.Request) error {
	return writeJSONValue(w, s.Requests())
}

func (s *Server) adminDeleteRequests(w http.ResponseWriter, _ *http.Request) error {
	s.ClearRequests()
	writeJSONBytes(w, http.StatusOK, emptyObject)
	return nil
}

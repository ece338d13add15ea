package conductorone

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxWait caps the long-poll wait of GET /admin/tasks/{id}?wait=.
const MaxWait = 10 * time.Minute

type adminError struct {
	Error string `json:"error"`
}

// AdminHandler serves the admin API:
//
//	GET  /admin/healthz                     {"status":"ok"} (never needs the admin token)
//	POST /admin/credentials                 {"name"?} -> 201 {"client_id","client_secret"}
//	GET  /admin/credentials                 [{"client_id","created_at"}] (no secrets)
//	POST /admin/tasks                       TaskSpec -> 201 {"id"}
//	GET  /admin/tasks                       [TaskView]
//	GET  /admin/tasks/{id}[?wait=30s]       TaskView; with wait, long-polls until finished or the wait ends
//	GET  /admin/tasks/{id}/upload           the uploaded c1z (application/octet-stream)
//	GET  /admin/tasks/{id}/upload/summary   UploadSummary
//	GET  /admin/hellos                      [HelloRecord]
//
// With WithAdminToken, every route but healthz needs `Authorization: Bearer <token>`.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	authed := func(pattern string, h func(http.ResponseWriter, *http.Request) (int, any, error)) {
		mux.Handle(pattern, s.requireAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code, v, err := h(w, r)
			if err != nil {
				writeAdminError(w, err)
				return
			}
			if v != nil {
				writeJSON(w, code, v)
			}
		})))
	}
	authed("POST /admin/credentials", s.adminMintCredentials)
	authed("GET /admin/credentials", func(http.ResponseWriter, *http.Request) (int, any, error) {
		return http.StatusOK, s.Clients(), nil
	})
	authed("POST /admin/tasks", s.adminEnqueue)
	authed("GET /admin/tasks", func(http.ResponseWriter, *http.Request) (int, any, error) {
		return http.StatusOK, s.Tasks(), nil
	})
	authed("GET /admin/tasks/{id}", s.adminGetTask)
	authed("GET /admin/tasks/{id}/upload", s.adminGetUpload)
	authed("GET /admin/tasks/{id}/upload/summary", func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		sum, err := s.UploadSummary(r.Context(), r.PathValue("id"))
		return http.StatusOK, sum, err
	})
	authed("GET /admin/hellos", func(http.ResponseWriter, *http.Request) (int, any, error) {
		return http.StatusOK, s.Hellos(), nil
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, adminError{Error: "no such admin route: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func (s *Server) requireAdmin(next http.Handler) http.Handler {
	if s.opts.adminToken == "" {
		return next
	}
	want := []byte("Bearer " + s.opts.adminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="c1-simulator admin"`)
			writeJSON(w, http.StatusUnauthorized, adminError{Error: "admin token required"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeAdminError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalidRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	}
	writeJSON(w, code, adminError{Error: err.Error()})
}

// decodeBody reads a JSON body strictly; an empty body leaves v untouched when allowEmpty.
func decodeBody(r *http.Request, v any, allowEmpty bool) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) && allowEmpty {
			return nil
		}
		return fmt.Errorf("%w: body: %v", ErrInvalidRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: body has trailing data", ErrInvalidRequest)
	}
	return nil
}

func (s *Server) adminMintCredentials(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeBody(r, &req, true); err != nil {
		return 0, nil, err
	}
	creds, err := s.MintCredentials(req.Name)
	return http.StatusCreated, creds, err
}

func (s *Server) adminEnqueue(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	var spec TaskSpec
	if err := decodeBody(r, &spec, false); err != nil {
		return 0, nil, err
	}
	id, err := s.EnqueueTask(spec)
	return http.StatusCreated, map[string]string{"id": id}, err
}

func (s *Server) adminGetTask(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	waitParam := r.URL.Query().Get("wait")
	if waitParam == "" {
		v, ok := s.Task(id)
		if !ok {
			return 0, nil, fmt.Errorf("%w: task %q", ErrNotFound, id)
		}
		return http.StatusOK, v, nil
	}
	wait, err := parseWait(waitParam)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	v, err := s.WaitTask(ctx, id)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}

// parseWait accepts a Go duration ("30s") or a number of seconds ("30").
func parseWait(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, err2 := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err2 != nil {
			return 0, fmt.Errorf("%w: wait %q is not a duration", ErrInvalidRequest, v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: wait must not be negative", ErrInvalidRequest)
	}
	return min(d, MaxWait), nil
}

func (s *Server) adminGetUpload(w http.ResponseWriter, r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	if _, ok := s.Task(id); !ok {
		return 0, nil, fmt.Errorf("%w: task %q", ErrNotFound, id)
	}
	data, ok := s.Upload(id)
	if !ok {
		return 0, nil, fmt.Errorf("%w: task %q has no upload", ErrNotFound, id)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+".c1z"))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return 0, nil, nil
}

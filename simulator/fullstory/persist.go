package fullstory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

const stateVersion = 1

// stateFile is the on-disk form of the store. Teammates are in their API
// form; files written before teammates existed lack both teammate keys
// (Teammates is nil then) and still load.
type stateFile struct {
	Version     int         `json:"version"`
	Seq         uint64      `json:"seq"`
	Users       []stateUser `json:"users"`
	TeammateSeq uint64      `json:"teammate_seq"`
	Teammates   *[]Teammate `json:"teammates"`
}

type stateUser struct {
	ID            string          `json:"id"`
	UID           string          `json:"uid,omitempty"`
	DisplayName   string          `json:"display_name,omitempty"`
	Email         string          `json:"email,omitempty"`
	Properties    json.RawMessage `json:"properties,omitempty"`
	Schema        json.RawMessage `json:"schema,omitempty"`         // declared schema properties
	TypeConflicts json.RawMessage `json:"type_conflicts,omitempty"` // type_conflicts properties
	DeleteAt      int64           `json:"delete_at_unix_nano,omitempty"`
}

// saveState writes the store to the state file atomically: a temporary
// file in the same directory is written, synced and renamed over the old
// one, so a crash leaves either the old or the new file, never a torn one.
func (s *Server) saveState() error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	s.saveMu.Lock()
	s.dirty = false
	s.saveMu.Unlock()

	seq, rs := s.st.snapshot()
	tseq, ts := s.tm.snapshot()
	path := s.cfg.stateFile
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	_, _ = w.WriteString(`{"version":` + strconv.Itoa(stateVersion) + `,"seq":` + strconv.FormatUint(seq, 10) + `,"users":[`)
	for i, r := range rs {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		_, _ = w.WriteString("\n")
		b, err := json.Marshal(stateUser{
			ID: r.id, UID: r.uid, DisplayName: r.displayName, Email: r.email,
			Properties: r.props, Schema: r.declared, TypeConflicts: r.conflicts, DeleteAt: r.deleteAt,
		})
		if err != nil {
			return fmt.Errorf("state file: %w", err)
		}
		_, _ = w.Write(b)
	}
	_, _ = w.WriteString("\n],\"teammate_seq\":" + strconv.FormatUint(tseq, 10) + `,"teammates":[`)
	for i, t := range ts {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		_, _ = w.WriteString("\n")
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("state file: %w", err)
		}
		_, _ = w.Write(b)
	}
	_, _ = w.WriteString("\n]}\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	s.cfg.logger.Debug("state file saved", "path", path, "users", len(rs), "teammates", len(ts))
	return nil
}

// loadState replaces the store with the state file's content and reports
// whether the file held teammates (an empty list counts). A missing file
// yields an error wrapping fs.ErrNotExist.
func (s *Server) loadState(path string) (hadTeammates bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return false, fmt.Errorf("state file %s: %w", path, err)
	}
	if sf.Version != stateVersion {
		return false, fmt.Errorf("state file %s: version %d, want %d", path, sf.Version, stateVersion)
	}
	rs := make([]*rec, 0, len(sf.Users))
	for i, u := range sf.Users {
		r := &rec{id: u.ID, uid: u.UID, displayName: u.DisplayName, email: u.Email, deleteAt: u.DeleteAt}
		for _, f := range []struct {
			name string
			in   json.RawMessage
			out  *[]byte
		}{{"properties", u.Properties, &r.props}, {"schema", u.Schema, &r.declared}, {"type_conflicts", u.TypeConflicts, &r.conflicts}} {
			if len(f.in) == 0 || string(f.in) == "null" {
				continue
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, f.in); err != nil || buf.Bytes()[0] != '{' {
				return false, fmt.Errorf("state file %s: user %d: %s is not a JSON object", path, i, f.name)
			}
			if buf.Len() > 2 {
				*f.out = buf.Bytes()
			}
		}
		rs = append(rs, r)
	}
	var ts []*Teammate
	if sf.Teammates != nil {
		for i := range *sf.Teammates {
			t := &(*sf.Teammates)[i]
			normalizeTeammate(t)
			ts = append(ts, t)
		}
	}
	if err := s.st.restore(sf.Seq, rs); err != nil {
		return false, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := s.tm.restore(sf.TeammateSeq, ts); err != nil {
		return false, fmt.Errorf("state file %s: %w", path, err)
	}
	return sf.Teammates != nil, nil
}

// readFixture reads an array of User or {"records":[User...]}.
func readFixture(path string) ([]User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	b = bytes.TrimSpace(b)
	var users []User
	if len(b) > 0 && b[0] == '[' {
		err = json.Unmarshal(b, &users)
	} else {
		var wrapped struct {
			Records []User `json:"records"`
		}
		err = json.Unmarshal(b, &wrapped)
		users = wrapped.Records
	}
	if err != nil {
		return nil, fmt.Errorf("fixture %s: %w", path, err)
	}
	return users, nil
}

package conductorone

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

const stateVersion = 1

// persistedState is the state file's shape. It holds no secrets: clients are
// public keys, tokens are sha256 hashes.
type persistedState struct {
	Version    int                  `json:"version"`
	Clients    []persistedClient    `json:"clients"`
	Tokens     []persistedToken     `json:"tokens"`
	Assertions map[string]time.Time `json:"seen_assertions"`
	Tasks      []persistedTask      `json:"tasks"`
	Hellos     []HelloRecord        `json:"hellos"`
}

type persistedClient struct {
	ClientID  string          `json:"client_id"`
	PublicJWK json.RawMessage `json:"public_jwk"`
	CreatedAt time.Time       `json:"created_at"`
}

type persistedToken struct {
	SHA256    string    `json:"sha256"`
	ClientID  string    `json:"client_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

type persistedTask struct {
	ID            string          `json:"id"`
	Spec          TaskSpec        `json:"spec"`
	Status        TaskStatus      `json:"status"`
	Attempts      int             `json:"attempts"`
	Requeues      int             `json:"requeues"`
	Error         string          `json:"error,omitempty"`
	ErrorCode     string          `json:"error_code,omitempty"`
	NonRetryable  bool            `json:"non_retryable,omitempty"`
	Response      json.RawMessage `json:"response,omitempty"`
	HostID        string          `json:"host_id,omitempty"`
	ClientID      string          `json:"client_id,omitempty"`
	Heartbeats    int             `json:"heartbeats"`
	CreatedAt     time.Time       `json:"created_at"`
	StartedAt     time.Time       `json:"started_at"`
	LastHeartbeat time.Time       `json:"last_heartbeat"`
	FinishedAt    time.Time       `json:"finished_at"`
	LeaseUntil    time.Time       `json:"lease_until"`
	Upload        []byte          `json:"upload,omitempty"`
	UploadSHA256  string          `json:"upload_sha256,omitempty"`
	Uploads       int             `json:"uploads"`
	OtherAsset    []byte          `json:"other_asset,omitempty"`
	OtherAssets   int             `json:"other_assets"`
}

func sortClients(cs []ClientInfo) {
	sort.Slice(cs, func(i, j int) bool {
		if !cs[i].CreatedAt.Equal(cs[j].CreatedAt) {
			return cs[i].CreatedAt.Before(cs[j].CreatedAt)
		}
		return cs[i].ClientID < cs[j].ClientID
	})
}

// snapshotLocked renders the state. s.mu must be held.
func (s *Server) snapshotLocked() (persistedState, error) {
	st := persistedState{Version: stateVersion, Assertions: map[string]time.Time{}}
	for _, c := range s.clients {
		jwk, err := marshalPublicJWK(c.publicKey)
		if err != nil {
			return persistedState{}, err
		}
		st.Clients = append(st.Clients, persistedClient{ClientID: c.id, PublicJWK: jwk, CreatedAt: c.createdAt})
	}
	sort.Slice(st.Clients, func(i, j int) bool { return st.Clients[i].ClientID < st.Clients[j].ClientID })
	for h, e := range s.tokens {
		st.Tokens = append(st.Tokens, persistedToken{SHA256: h, ClientID: e.clientID, ExpiresAt: e.expiresAt})
	}
	sort.Slice(st.Tokens, func(i, j int) bool { return st.Tokens[i].SHA256 < st.Tokens[j].SHA256 })
	for k, v := range s.seenAssertions {
		st.Assertions[k] = v
	}
	for _, id := range s.order {
		t := s.tasks[id]
		st.Tasks = append(st.Tasks, persistedTask{
			ID: t.id, Spec: t.spec, Status: t.status, Attempts: t.attempts, Requeues: t.requeues,
			Error: t.errMsg, ErrorCode: t.errCode, NonRetryable: t.nonRetryable, Response: t.response,
			HostID: t.hostID, ClientID: t.clientID, Heartbeats: t.heartbeats,
			CreatedAt: t.createdAt, StartedAt: t.startedAt, LastHeartbeat: t.lastHeartbeat,
			FinishedAt: t.finishedAt, LeaseUntil: t.leaseUntil,
			Upload: t.upload, UploadSHA256: t.uploadSHA256, Uploads: t.uploads,
			OtherAsset: t.otherAsset, OtherAssets: t.otherAssets,
		})
	}
	st.Hellos = s.hellos
	return st, nil
}

// save writes the state file when one is configured; failures are logged.
func (s *Server) save() {
	if s.opts.stateFile == "" {
		return
	}
	if err := s.persist(); err != nil {
		s.logger.Error("write state file", "path", s.opts.stateFile, "error", err)
	}
}

// persist writes the current state atomically (temp file, fsync, rename).
// Concurrent callers never let an older snapshot overwrite a newer one.
func (s *Server) persist() error {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	s.mu.Lock()
	version := s.version
	if version == s.persistVersion && s.persistVersion != 0 {
		s.mu.Unlock()
		return nil
	}
	st, err := s.snapshotLocked()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	data, err := json.Marshal(st)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("c1-simulator: encode state: %w", err)
	}
	if err := writeFileAtomic(s.opts.stateFile, data, 0o600); err != nil {
		return err
	}
	s.persistVersion = version
	return nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("c1-simulator: write %s: %w", path, err)
	}
	tmp := f.Name()
	cleanup := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("c1-simulator: write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return cleanup(err)
	}
	if _, err := f.Write(data); err != nil {
		return cleanup(err)
	}
	if err := f.Sync(); err != nil {
		return cleanup(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("c1-simulator: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("c1-simulator: write %s: %w", path, err)
	}
	return nil
}

// loadState restores state from path; a missing file is an empty state.
func (s *Server) loadState(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("c1-simulator: read state file: %w", err)
	}
	var st persistedState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("c1-simulator: decode state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("c1-simulator: state file %s has version %d, want %d", path, st.Version, stateVersion)
	}
	for _, c := range st.Clients {
		pub, err := unmarshalPublicJWK(c.PublicJWK)
		if err != nil {
			return fmt.Errorf("c1-simulator: state file client %s: %w", c.ClientID, err)
		}
		s.clients[c.ClientID] = &client{id: c.ClientID, publicKey: pub, createdAt: c.CreatedAt}
	}
	for _, t := range st.Tokens {
		s.tokens[t.SHA256] = tokenEntry{clientID: t.ClientID, expiresAt: t.ExpiresAt}
	}
	for k, v := range st.Assertions {
		s.seenAssertions[k] = v
	}
	for _, p := range st.Tasks {
		if _, err := buildTaskProto(p.ID, p.Spec); err != nil {
			return fmt.Errorf("c1-simulator: state file task %s: %w", p.ID, err)
		}
		s.tasks[p.ID] = &task{
			id: p.ID, spec: p.Spec, status: p.Status, attempts: p.Attempts, requeues: p.Requeues,
			errMsg: p.Error, errCode: p.ErrorCode, nonRetryable: p.NonRetryable, response: p.Response,
			hostID: p.HostID, clientID: p.ClientID, heartbeats: p.Heartbeats,
			createdAt: p.CreatedAt, startedAt: p.StartedAt, lastHeartbeat: p.LastHeartbeat,
			finishedAt: p.FinishedAt, leaseUntil: p.LeaseUntil,
			upload: p.Upload, uploadSHA256: p.UploadSHA256, uploads: p.Uploads,
			otherAsset: p.OtherAsset, otherAssets: p.OtherAssets,
		}
		if p.Status == StatusRunning {
			// Give a task that was running when the simulator stopped a full
			// heartbeat timeout to be heard from again.
			s.tasks[p.ID].leaseUntil = s.now().Add(s.opts.heartbeatTimeout)
		}
		s.order = append(s.order, p.ID)
	}
	s.hellos = st.Hellos
	return nil
}

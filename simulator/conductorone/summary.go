package conductorone

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
)

// UploadSummary is what GET /admin/tasks/{id}/upload/summary returns: the
// resources in the c1z's latest sync, counted by resource type, plus the user
// resources in full.
type UploadSummary struct {
	Counts  map[string]int `json:"counts"`
	UserIDs []string       `json:"user_ids"`
	Users   []SummaryUser  `json:"users"`
}

// SummaryUser is one user resource of a c1z, flattened for comparison.
type SummaryUser struct {
	ID          string         `json:"id"`
	DisplayName string         `json:"display_name"`
	Login       string         `json:"login,omitempty"`
	Emails      []SummaryEmail `json:"emails,omitempty"`
	// Status is the resource status (or, failing that, the user trait's), e.g. "STATUS_ENABLED".
	Status  string         `json:"status,omitempty"`
	Profile map[string]any `json:"profile,omitempty"`
}

// SummaryEmail is one email of a user trait.
type SummaryEmail struct {
	Address string `json:"address"`
	Primary bool   `json:"primary,omitempty"`
}

// UserResourceType is the resource type id whose resources Summary lists in full.
const UserResourceType = "user"

// UploadSummary decodes the c1z uploaded for a task (cached per upload).
func (s *Server) UploadSummary(ctx context.Context, id string) (UploadSummary, error) {
	s.mu.Lock()
	t, ok := s.tasks[id]
	if !ok {
		s.mu.Unlock()
		return UploadSummary{}, fmt.Errorf("%w: task %q", ErrNotFound, id)
	}
	if t.upload == nil {
		s.mu.Unlock()
		return UploadSummary{}, fmt.Errorf("%w: task %q has no upload", ErrNotFound, id)
	}
	if t.summary != nil {
		sum := *t.summary
		s.mu.Unlock()
		return sum, nil
	}
	data, sha := t.upload, t.uploadSHA256
	s.mu.Unlock()

	sum, err := SummarizeC1Z(ctx, data, s.opts.tempDir)
	if err != nil {
		return UploadSummary{}, err
	}
	s.mu.Lock()
	if t.uploadSHA256 == sha {
		t.summary = &sum
	}
	s.mu.Unlock()
	return sum, nil
}

// SummarizeC1Z reads a c1z with baton-sdk's reader (pkg/dotc1z) and summarises
// its latest sync. tmpDir ("" for the system default) receives the unpacked file.
func SummarizeC1Z(ctx context.Context, c1z []byte, tmpDir string) (UploadSummary, error) {
	dir, err := os.MkdirTemp(tmpDir, "c1sim-summary-")
	if err != nil {
		return UploadSummary{}, fmt.Errorf("c1-simulator: summarise upload: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "upload.c1z")
	if err := os.WriteFile(path, c1z, 0o600); err != nil {
		return UploadSummary{}, fmt.Errorf("c1-simulator: summarise upload: %w", err)
	}
	store, err := dotc1z.NewStore(ctx, path, dotc1z.WithReadOnly(true), dotc1z.WithTmpDir(dir))
	if err != nil {
		return UploadSummary{}, fmt.Errorf("c1-simulator: open uploaded c1z: %w", err)
	}
	sum, err := summarizeStore(ctx, store)
	return sum, errors.Join(err, store.Close(ctx))
}

type resourceLister interface {
	ListResources(context.Context, *v2.ResourcesServiceListResourcesRequest) (*v2.ResourcesServiceListResourcesResponse, error)
}

func summarizeStore(ctx context.Context, store resourceLister) (UploadSummary, error) {
	sum := UploadSummary{Counts: map[string]int{}, UserIDs: []string{}, Users: []SummaryUser{}}
	pageToken := ""
	for {
		resp, err := store.ListResources(ctx, v2.ResourcesServiceListResourcesRequest_builder{
			PageSize:  500,
			PageToken: pageToken,
		}.Build())
		if err != nil {
			return UploadSummary{}, fmt.Errorf("c1-simulator: list resources of uploaded c1z: %w", err)
		}
		for _, r := range resp.GetList() {
			typ := r.GetId().GetResourceType()
			sum.Counts[typ]++
			if typ == UserResourceType {
				u, err := summaryUser(r)
				if err != nil {
					return UploadSummary{}, err
				}
				sum.Users = append(sum.Users, u)
			}
		}
		next := resp.GetNextPageToken()
		if next == "" || next == pageToken {
			break
		}
		pageToken = next
	}
	sort.Slice(sum.Users, func(i, j int) bool { return sum.Users[i].ID < sum.Users[j].ID })
	for _, u := range sum.Users {
		sum.UserIDs = append(sum.UserIDs, u.ID)
	}
	return sum, nil
}

func summaryUser(r *v2.Resource) (SummaryUser, error) {
	u := SummaryUser{ID: r.GetId().GetResource(), DisplayName: r.GetDisplayName()}
	annos := annotations.Annotations(r.GetAnnotations())
	trait := &v2.UserTrait{}
	ok, err := annos.Pick(trait)
	if err != nil {
		return SummaryUser{}, fmt.Errorf("c1-simulator: user %s: read user trait: %w", u.ID, err)
	}
	if ok {
		u.Login = trait.GetLogin()
		for _, e := range trait.GetEmails() {
			u.Emails = append(u.Emails, SummaryEmail{Address: e.GetAddress(), Primary: e.GetIsPrimary()})
		}
		if st := trait.GetStatus(); st != nil {
			u.Status = st.GetStatus().String()
		}
		if p := trait.GetProfile(); p != nil && len(p.GetFields()) > 0 {
			u.Profile = p.AsMap()
		}
	}
	if st := r.GetStatus(); st != nil {
		u.Status = st.GetStatus().String()
	}
	if p := r.GetProfile(); p != nil && len(p.GetFields()) > 0 {
		u.Profile = p.AsMap()
	}
	return u, nil
}

//go:build provider

package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pact-foundation/pact-go/v2/models"

	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
)

// The provider states of the SCIM contract. Every state's parameters carry
// the exact teammates the simulator must hold ("teammates"), and the
// capped-paging state the page cap ("max_page_size"); each handler seeds
// them through the simulator's library API, checks the simulator holds
// exactly them, then checks what its name promises.

func (w *world) scimStateHandlers() models.StateHandlers {
	return models.StateHandlers{
		stateTeammatesOnePage: w.handler(stateTeammatesOnePage, w.setupTeammates(false, nil)),
		stateTeammatesCapped:  w.handler(stateTeammatesCapped, w.setupTeammates(true, nil)),
		stateTeammateExists: w.handler(stateTeammateExists, w.setupTeammates(false,
			hasTeammate(existingTeammateID, existingUserName, true))),
		stateTeammateInactive: w.handler(stateTeammateInactive, w.setupTeammates(false,
			hasTeammate(inactiveTeammateID, inactiveUserName, false))),
		stateNoTeammateNamed:  w.handler(stateNoTeammateNamed, w.setupTeammates(false, noUserName(newUserName))),
		stateNoTeammateWithID: w.handler(stateNoTeammateWithID, w.setupTeammates(false, noTeammateID(missingTeammateID))),
		stateSCIMTokenRevoked: w.handler(stateSCIMTokenRevoked, w.setupTeammates(false, tokenRejected(revokedSCIMToken))),
		stateSCIMRateLimited:  w.handler(stateSCIMRateLimited, w.setupSCIMRateLimited),
	}
}

// scimStateParams is what every SCIM state's parameters hold.
type scimStateParams struct {
	Teammates   []fixtureTeammate `json:"teammates"`
	MaxPageSize int               `json:"max_page_size,omitempty"`
}

func decodeSCIMParams(params map[string]any, wantPageSize bool) (scimStateParams, error) {
	var p scimStateParams
	if err := decodeParams(params, &p); err != nil {
		return p, err
	}
	if len(p.Teammates) == 0 {
		return p, fmt.Errorf("parameters name no teammates")
	}
	if wantPageSize != (p.MaxPageSize > 0) {
		return p, fmt.Errorf("parameters have max_page_size %d; this state needs one: %v", p.MaxPageSize, wantPageSize)
	}
	return p, nil
}

// stateCheck checks what a state's name promises of the seeded simulator.
type stateCheck func(sim *fssim.Server) error

// setupTeammates seeds exactly the state's teammates (with the page cap
// when capped), then runs check.
func (w *world) setupTeammates(capped bool, check stateCheck) setupFunc {
	return func(params map[string]any) (models.ProviderStateResponse, error) {
		p, err := decodeSCIMParams(params, capped)
		if err != nil {
			return nil, err
		}
		var opts []fssim.Option
		if capped {
			opts = append(opts, fssim.WithSCIMMaxPageSize(p.MaxPageSize))
		}
		sim, err := w.replace(opts...)
		if err != nil {
			return nil, err
		}
		if err := seedTeammates(sim, p.Teammates); err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(sim); err != nil {
				return nil, err
			}
		}
		sim.ClearRequests()
		return nil, nil
	}
}

// setupSCIMRateLimited seeds the teammates, allows one request per second
// on a stopped clock and spends it on a SCIM request, so the next one is
// over the limit.
func (w *world) setupSCIMRateLimited(params map[string]any) (models.ProviderStateResponse, error) {
	p, err := decodeSCIMParams(params, false)
	if err != nil {
		return nil, err
	}
	stopped := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sim, err := w.replace(
		fssim.WithClock(func() time.Time { return stopped }),
		fssim.WithFaults(fssim.Faults{RateLimitRPS: 1}),
	)
	if err != nil {
		return nil, err
	}
	if err := seedTeammates(sim, p.Teammates); err != nil {
		return nil, err
	}
	status, out, err := scimCall(sim, http.MethodGet, scimUsersPath+"?startIndex=1&count=1", scimToken, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("the request spending the rate limit answered %d %s", status, brief(out))
	}
	sim.ClearRequests()
	return nil, nil
}

// seedTeammates stores ts exactly (ids included) and checks the simulator
// holds them and nothing else.
func seedTeammates(sim *fssim.Server, ts []fixtureTeammate) error {
	want := make(map[string]fixtureTeammate, len(ts))
	for _, t := range ts {
		if t.ID == "" {
			return fmt.Errorf("fixture teammate %+v has no id", t)
		}
		st := fssim.Teammate{
			ID: t.ID, ExternalID: t.ExternalID, UserName: t.UserName,
			DisplayName: t.DisplayName, Active: t.Active,
		}
		if t.Name != nil {
			st.Name = &fssim.TeammateName{GivenName: t.Name.GivenName, FamilyName: t.Name.FamilyName}
		}
		for _, e := range t.Emails {
			st.Emails = append(st.Emails, fssim.TeammateEmail{Value: e.Value, Type: e.Type, Primary: e.Primary})
		}
		got, err := sim.PutTeammate(st)
		if err != nil {
			return fmt.Errorf("seed teammate %s: %w", t.ID, err)
		}
		if got.ID != t.ID {
			return fmt.Errorf("seeded teammate %s got id %s", t.ID, got.ID)
		}
		want[t.ID] = t
	}
	got := map[string]fixtureTeammate{}
	for _, t := range sim.Teammates() {
		got[t.ID] = fixtureFromTeammate(t)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		return fmt.Errorf("the simulator does not hold exactly the state's teammates (-want +got):\n%s", diff)
	}
	return nil
}

func fixtureFromTeammate(t fssim.Teammate) fixtureTeammate {
	f := fixtureTeammate{ID: t.ID, ExternalID: t.ExternalID, UserName: t.UserName, DisplayName: t.DisplayName, Active: t.Active}
	if t.Name != nil {
		f.Name = &fixtureName{GivenName: t.Name.GivenName, FamilyName: t.Name.FamilyName}
	}
	for _, e := range t.Emails {
		f.Emails = append(f.Emails, fixtureEmail{Value: e.Value, Type: e.Type, Primary: e.Primary})
	}
	return f
}

func hasTeammate(id, userName string, active bool) stateCheck {
	return func(sim *fssim.Server) error {
		for _, t := range sim.Teammates() {
			if t.ID == id {
				if !strings.EqualFold(t.UserName, userName) || t.Active != active {
					return fmt.Errorf("teammate %s has userName %q and active %v, want %q and %v", id, t.UserName, t.Active, userName, active)
				}
				return nil
			}
		}
		return fmt.Errorf("no teammate with id %s", id)
	}
}

func noUserName(userName string) stateCheck {
	return func(sim *fssim.Server) error {
		for _, t := range sim.Teammates() {
			if strings.EqualFold(t.UserName, userName) {
				return fmt.Errorf("teammate %s has userName %q", t.ID, t.UserName)
			}
		}
		return nil
	}
}

func noTeammateID(id string) stateCheck {
	return func(sim *fssim.Server) error {
		for _, t := range sim.Teammates() {
			if t.ID == id {
				return fmt.Errorf("teammate %s exists", id)
			}
		}
		return nil
	}
}

// tokenRejected checks the simulator answers token 401 (it knows only
// scimToken, so any other token is invalid).
func tokenRejected(token string) stateCheck {
	return func(sim *fssim.Server) error {
		status, out, err := scimCall(sim, http.MethodGet, scimUsersPath+"?startIndex=1&count=1", token, nil)
		if err != nil {
			return err
		}
		if status != http.StatusUnauthorized {
			return fmt.Errorf("a request with token %s answered %d %s, want 401", token, status, brief(out))
		}
		return nil
	}
}

// scimCall sends one SCIM request straight to the simulator's handler.
func scimCall(sim *fssim.Server, method, target, token string, body []byte) (int, map[string]any, error) {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		return rec.Code, nil, fmt.Errorf("%s %s answered %d with a body that is not a JSON object: %q", method, target, rec.Code, rec.Body.String())
	}
	return rec.Code, out, nil
}

// brief is a body for an error message: JSON, at most 200 bytes.
func brief(body map[string]any) string {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Sprint(body)
	}
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

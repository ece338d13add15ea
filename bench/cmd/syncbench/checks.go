package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
)

// pageSize is the simulator's default page, as Fullstory's.
const pageSize = 100

// checkRequests fills the request figures of r and fails unless the sync
// made exactly one identified-only list request per page (Validate's request
// is the sync's first page) and nothing else.
func checkRequests(r *Run, reqs []logEntry, users, logLimit int) error {
	if len(reqs) >= logLimit {
		return fmt.Errorf("the simulator's request log is full (%d entries): the count would be wrong", len(reqs))
	}
	r.Requests = len(reqs)
	perToken := map[string]int{}
	var problems []string
	for _, e := range reqs {
		switch {
		case e.Method == "GET" && e.Path == "/v2/users":
			r.ListRequests++
			q, err := url.ParseQuery(e.Query)
			if err != nil {
				return fmt.Errorf("request log: bad query %q", e.Query)
			}
			if q.Get("is_identified") != "true" {
				problems = append(problems, fmt.Sprintf("list request without is_identified=true: %q", e.Query))
			}
			perToken[q.Get("page_token")]++
		case strings.HasPrefix(e.Path, "/v2/users/"):
			r.PerUserRequests++
			problems = append(problems, fmt.Sprintf("per-user request %s %s", e.Method, e.Path))
		default:
			problems = append(problems, fmt.Sprintf("unexpected request %s %s", e.Method, e.Path))
		}
		if e.Status != 200 {
			problems = append(problems, fmt.Sprintf("%s %s?%s answered %d", e.Method, e.Path, e.Query, e.Status))
		}
	}
	r.Pages = len(perToken)
	wantPages := max(1, (users+pageSize-1)/pageSize)
	if r.Pages != wantPages {
		problems = append(problems, fmt.Sprintf("%d distinct pages requested, want %d", r.Pages, wantPages))
	}
	for tok, n := range perToken {
		if n != 1 {
			problems = append(problems, fmt.Sprintf("page token %.16q requested %d times", tok, n))
		}
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
		}
		return fmt.Errorf("request log: %s", strings.Join(problems, "; "))
	}
	return nil
}

// verifyCommand is the hidden subcommand that checks a c1z.
const verifyCommand = "_verify"

// verifyInSubprocess checks the c1z against the simulator in a child
// process, so that reading 100k users does not raise syncbench's own peak
// RSS (which the kernel would count into the next connector's ru_maxrss).
// It returns the number of users in the c1z.
func verifyInSubprocess(ctx context.Context, c1z, simURL string, users int, tmpDir string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, self, verifyCommand, "-c1z", c1z, "-sim", simURL, "-users", strconv.Itoa(users), "-tmp", tmpDir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(errOut.String()))
	}
	var res struct {
		SyncedUsers int `json:"synced_users"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	return res.SyncedUsers, nil
}

// runVerify is the subprocess: it fails unless the c1z holds exactly the
// simulator's identified users, and there are as many as expected.
func runVerify(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(verifyCommand, flag.ContinueOnError)
	path := fs.String("c1z", "", "c1z file")
	simURL := fs.String("sim", "", "simulator base URL")
	users := fs.Int("users", 0, "identified users expected")
	tmp := fs.String("tmp", "", "scratch directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *simURL == "" {
		return errors.New("-c1z and -sim are required")
	}
	ctx := context.Background()
	sim := &simulator{baseURL: *simURL}
	ids, err := sim.identifiedIDs(ctx)
	if err != nil {
		return err
	}
	if len(ids) != *users {
		return fmt.Errorf("the simulator holds %d identified users, want %d", len(ids), *users)
	}
	var r Run
	if err := checkC1Z(ctx, &r, *path, *tmp, ids); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]int{"synced_users": r.SyncedUsers})
}

// checkC1Z fails unless the c1z holds exactly the simulator's identified
// users, each once.
func checkC1Z(ctx context.Context, r *Run, path, tmpDir string, want []string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum, err := c1sim.SummarizeC1Z(ctx, data, tmpDir)
	if err != nil {
		return fmt.Errorf("read the c1z: %w", err)
	}
	r.SyncedUsers = sum.Counts[c1sim.UserResourceType]
	got := slices.Clone(sum.UserIDs)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if r.SyncedUsers != len(want) || !slices.Equal(got, want) {
		return fmt.Errorf("the c1z holds %d users (%d ids), want the simulator's %d identified users: %s",
			r.SyncedUsers, len(got), len(want), firstDiff(got, want))
	}
	for typ, n := range sum.Counts {
		if typ != c1sim.UserResourceType {
			return fmt.Errorf("the c1z holds %d resources of unexpected type %q", n, typ)
		}
	}
	return nil
}

func firstDiff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("missing %s", want[i])
		case i >= len(want):
			return fmt.Sprintf("extra %s", got[i])
		case got[i] != want[i]:
			return fmt.Sprintf("first difference at %d: got %s, want %s", i, got[i], want[i])
		}
	}
	return "same ids"
}

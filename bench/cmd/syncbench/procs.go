package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// simulator is a running fullstory-simulator process.
type simulator struct {
	cmd      *exec.Cmd
	baseURL  string
	apiKey   string
	logLimit int
	done     chan error
}

// requestLogLimit keeps every request of a million-user sync.
const requestLogLimit = 1_000_000

func startSimulator(ctx context.Context, c *config, users, anon int, latency time.Duration) (*simulator, error) {
	key := randomKey()
	s := &simulator{apiKey: key, logLimit: requestLogLimit, done: make(chan error, 1)}
	s.cmd = exec.CommandContext(ctx, filepath.Join(c.binDir, "fullstory-simulator"),
		"--listen", "127.0.0.1:0",
		"--users", strconv.Itoa(users),
		"--anonymous-users", strconv.Itoa(anon),
		"--latency", latency.String(),
		"--request-log-limit", strconv.Itoa(requestLogLimit),
	)
	// The key travels in the environment, not on the command line.
	s.cmd.Env = append(os.Environ(), "FULLSTORY_SIM_API_KEY="+key)
	stderr, err := os.Create(filepath.Join(c.workDir, "simulator.log"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	s.cmd.Stderr = stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start simulator: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "fullstory-simulator listening on "); ok {
				lines <- addr
			}
		}
	}()
	select {
	case addr := <-lines:
		s.baseURL = strings.TrimSpace(addr)
	case err := <-s.done:
		return nil, fmt.Errorf("simulator exited before listening (%v); see %s", err, stderr.Name())
	case <-time.After(c.simTimeout):
		s.stop()
		return nil, fmt.Errorf("simulator did not listen within %v", c.simTimeout)
	}
	// Start from an empty request log.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.baseURL+"/_simulator/requests", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("clear the simulator's request log: %w", err)
	}
	resp.Body.Close()
	return s, nil
}

func (s *simulator) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

type logEntry struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Status int    `json:"status"`
}

func (s *simulator) requests(ctx context.Context) ([]logEntry, error) {
	var out []logEntry
	return out, s.getJSON(ctx, "/_simulator/requests", &out)
}

type simUser struct {
	ID  string `json:"id"`
	UID string `json:"uid"`
}

func (s *simulator) identifiedIDs(ctx context.Context) ([]string, error) {
	var users []simUser
	if err := s.getJSON(ctx, "/_simulator/users", &users); err != nil {
		return nil, err
	}
	var ids []string
	for _, u := range users {
		if u.UID != "" {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}

func (s *simulator) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

func randomKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}

// connectorResult is what one finished sync left behind.
type connectorResult struct {
	wall    time.Duration
	rusage  *syscall.Rusage  // baton-fullstory and what it reaped
	orphans []syscall.Rusage // its children that it left for us to reap
	mem     memPeaks
}

func runConnector(ctx context.Context, c *config, sim *simulator, c1z string) (connectorResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.runTimeout)
	defer cancel()
	args := append([]string{"--base-url", sim.baseURL, "-f", c1z, "--log-level", "warn"}, c.connArgs...)
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "baton-fullstory"), args...)
	home := filepath.Join(c.workDir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return connectorResult{}, err
	}
	cmd.Dir = home
	cmd.Env = append([]string{"HOME=" + home, "PATH=/usr/bin:/bin", "TMPDIR=" + home, "BATON_API_KEY=" + sim.apiKey}, c.connEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return connectorResult{}, fmt.Errorf("start baton-fullstory: %w", err)
	}
	var trace io.Writer
	if c.traceRSS != "" {
		f, err := os.OpenFile(c.traceRSS, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return connectorResult{}, err
		}
		defer f.Close()
		fmt.Fprintf(f, "# %s\n", c1z)
		trace = f
	}
	apiPort := 0
	if u, err := url.Parse(sim.baseURL); err == nil {
		apiPort, _ = strconv.Atoi(u.Port())
	}
	sampler := newMemSampler(cmd.Process.Pid, time.Duration(c.sampleMS)*time.Millisecond, trace, apiPort)
	err := cmd.Wait()
	wall := time.Since(start)
	mem := sampler.stop()
	_ = os.WriteFile(strings.TrimSuffix(c1z, ".c1z")+".log", out.Bytes(), 0o644)
	// baton-fullstory may exit before it reaps its _connector-service child;
	// the child is then ours (syncbench is a child subreaper) and we reap it
	// here for its own rusage.
	orphans := reapOrphans(append(mem.descendants, childrenOf(os.Getpid(), sim.cmd.Process.Pid)...), cmd.Process.Pid)
	if err != nil {
		return connectorResult{}, fmt.Errorf("baton-fullstory failed (%v) after %v:\n%s", err, wall.Round(time.Millisecond), tail(out.String(), 4000))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return connectorResult{}, errors.New("no rusage for the finished connector")
	}
	return connectorResult{wall: wall, rusage: ru, orphans: orphans, mem: mem}, nil
}

// becomeSubreaper makes orphaned descendants this process's children, so
// their resource usage can be collected (prctl PR_SET_CHILD_SUBREAPER).
func becomeSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", errno)
	}
	return nil
}

// reapOrphans waits for each of pids (except root) that is now our child
// and returns their rusage. A pid that is not our child was reaped by its
// parent, and its usage is in the parent's rusage.
func reapOrphans(pids []int, root int) []syscall.Rusage {
	var out []syscall.Rusage
	seen := map[int]bool{root: true}
	for _, pid := range pids {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		type result struct {
			ru  syscall.Rusage
			err error
		}
		done := make(chan result, 1)
		go func() {
			var ws syscall.WaitStatus
			var ru syscall.Rusage
			_, err := syscall.Wait4(pid, &ws, 0, &ru)
			done <- result{ru, err}
		}()
		select {
		case r := <-done:
			if r.err == nil {
				out = append(out, r.ru)
			}
		case <-time.After(15 * time.Second):
			// Still running 15 s after its parent ended: stop it.
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if r := <-done; r.err == nil {
				out = append(out, r.ru)
			}
		}
	}
	return out
}

// childrenOf lists the live children of parent, except skip.
func childrenOf(parent, skip int) []int {
	var out []int
	for pid, ppid := range processParents() {
		if ppid == parent && pid != skip {
			out = append(out, pid)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// memPeaks are in KiB.
type memPeaks struct {
	parentHWM int64 // VmHWM of the baton-fullstory process
	childHWM  int64 // sum of the VmHWM of its descendants (the _connector-service child)
	treeRSS   int64 // largest sum of VmRSS over the tree in one sample
	// childCPU is the CPU time of the descendants, last seen (clock ticks).
	childCPU int64
	// descendants are every process seen below the root.
	descendants []int
	// apiConns counts the distinct TCP connections to the simulator seen
	// open in the tree (sampled: a connection opened and closed between
	// two scans is missed, but churn would still show).
	apiConns int
}

// memSampler polls /proc while the connector runs. It rescans the process
// tree every rescan ticks and reads the known processes every tick.
type memSampler struct {
	root  int
	every time.Duration
	quit  chan struct{}
	done  chan memPeaks
	// trace, when set, receives one line per sample: seconds and pid=RSS MiB.
	trace io.Writer
	start time.Time
	// apiPort is the simulator's port, whose connections are counted.
	apiPort int
}

func newMemSampler(root int, every time.Duration, trace io.Writer, apiPort int) *memSampler {
	s := &memSampler{root: root, every: every, quit: make(chan struct{}), done: make(chan memPeaks, 1), trace: trace, start: time.Now(), apiPort: apiPort}
	go s.loop()
	return s
}

func (s *memSampler) stop() memPeaks {
	close(s.quit)
	return <-s.done
}

func (s *memSampler) loop() {
	var peaks memPeaks
	hwm := map[int]int64{}
	cpu := map[int]int64{}
	tree := []int{s.root}
	all := map[int]bool{}
	conns := map[string]bool{}
	t := time.NewTicker(s.every)
	defer t.Stop()
	rescanEvery := max(1, int(250*time.Millisecond/s.every))
	for tick := 0; ; tick++ {
		if tick%rescanEvery == 0 {
			tree = descendants(s.root)
			for _, pid := range tree {
				all[pid] = true
			}
			if s.apiPort > 0 {
				for _, inode := range apiSockets(tree, s.apiPort) {
					conns[inode] = true
				}
			}
		}
		var sum int64
		var line []string
		for _, pid := range tree {
			rss, h, ok := readMem(pid)
			if !ok {
				continue
			}
			sum += rss
			hwm[pid] = max(hwm[pid], h)
			line = append(line, fmt.Sprintf("%d=%d", pid, rss/1024))
			if pid != s.root {
				if t, ok := readCPU(pid); ok {
					cpu[pid] = t
				}
			}
		}
		peaks.treeRSS = max(peaks.treeRSS, sum)
		if s.trace != nil {
			fmt.Fprintf(s.trace, "%.2f %s\n", time.Since(s.start).Seconds(), strings.Join(line, " "))
		}
		select {
		case <-s.quit:
			var child int64
			for pid, h := range hwm {
				if pid != s.root {
					child += h
				}
			}
			peaks.parentHWM, peaks.childHWM = hwm[s.root], child
			for _, t := range cpu {
				peaks.childCPU += t
			}
			for pid := range all {
				if pid != s.root {
					peaks.descendants = append(peaks.descendants, pid)
				}
			}
			if s.apiPort > 0 {
				for _, inode := range apiSockets(descendants(s.root), s.apiPort) {
					conns[inode] = true
				}
			}
			peaks.apiConns = len(conns)
			s.done <- peaks
			return
		case <-t.C:
		}
	}
}

// descendants lists root and every process below it.
func descendants(root int) []int {
	parent := processParents()
	out := []int{root}
	in := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		for pid, ppid := range parent {
			if in[ppid] && !in[pid] {
				in[pid] = true
				out = append(out, pid)
				changed = true
			}
		}
	}
	return out
}

// processParents maps every live pid to its parent pid.
func processParents() map[int]int {
	parent := map[int]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return parent
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			parent[pid] = ppid
		}
	}
	return parent
}

// readMem returns VmRSS and VmHWM of pid in KiB.
func readMem(pid int) (rss, hwm int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		f := strings.Fields(v)
		if len(f) > 0 {
			*dst, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	return rss, hwm, hwm > 0
}

// readCPU returns utime+stime of pid in clock ticks.
func readCPU(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return ut + st, err1 == nil && err2 == nil
}

// apiSockets returns the inodes of the TCP sockets that processes pids hold
// open to 127.0.0.1:port.
func apiSockets(pids []int, port int) []string {
	held := map[string]bool{}
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			link, err := os.Readlink(dir + "/" + e.Name())
			if err != nil {
				continue
			}
			if inode, ok := strings.CutPrefix(link, "socket:["); ok {
				held[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil
	}
	// rem_address is hex IP:port; 0100007F is 127.0.0.1.
	remote := fmt.Sprintf("0100007F:%04X", port)
	var out []string
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[2] != remote {
			continue
		}
		if held[f[9]] {
			out = append(out, f[9])
		}
	}
	return out
}

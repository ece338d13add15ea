// Command syncbench measures one-shot baton-fullstory syncs against a
// fullstory-simulator process: wall time, users per second, peak RSS of the
// connector's process tree, HTTP requests made and c1z size. It fails (exit
// status 1) when a sync fails, when the c1z does not hold exactly the
// simulator's identified users, or when the request log shows anything but
// one list request per page.
//
// make bench runs it through scripts/bench.sh; see bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Run is one row of bench/results.json. The first seven fields are the
// issue's; the rest say where the figures come from.
type Run struct {
	Users      int     `json:"users"`
	LatencyMS  int     `json:"latency_ms"`
	WallS      float64 `json:"wall_s"`
	UsersPerS  float64 `json:"users_per_s"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Requests   int     `json:"requests"`
	C1ZBytes   int64   `json:"c1z_bytes"`

	Label          string   `json:"label,omitempty"`
	Repeat         int      `json:"repeat,omitempty"`
	ConnectorArgs  []string `json:"connector_args,omitempty"`
	ConnectorEnv   []string `json:"connector_env,omitempty"`
	AnonymousUsers int      `json:"anonymous_users"`
	// CPUS is user+system CPU seconds of the whole connector tree (wait4).
	CPUS float64 `json:"cpu_s"`
	// ChildCPUS is the _connector-service child's share, sampled from /proc.
	ChildCPUS float64 `json:"child_cpu_s"`
	UserS     float64 `json:"user_s"`
	SysS      float64 `json:"sys_s"`
	// RSS breakdown. PeakRSSMiB is the largest ru_maxrss of any one process
	// of the tree, from wait4 (for a process that reaped children the kernel
	// takes the max over them, not the sum). ParentHWMMiB and ChildHWMMiB are
	// each process's own peak: from wait4 when RSSSource is "wait4" (the
	// child was reaped by syncbench, a child subreaper), else VmHWM sampled
	// from /proc. HWMSumMiB is their sum, an upper bound of the tree's peak;
	// TreeSampledMiB is the largest sum of VmRSS over the tree seen in one
	// sample (every SampleMS), a lower bound.
	RSSSource string `json:"rss_source"`
	// BenchHWMMiB is syncbench's own peak RSS when it started the
	// connector; the kernel's ru_maxrss of the connector is at least this.
	BenchHWMMiB    float64 `json:"bench_hwm_mib"`
	ParentHWMMiB   float64 `json:"parent_hwm_mib"`
	ChildHWMMiB    float64 `json:"child_hwm_mib"`
	HWMSumMiB      float64 `json:"hwm_sum_mib"`
	TreeSampledMiB float64 `json:"tree_sampled_rss_mib"`
	SampleMS       int     `json:"sample_ms"`
	// Request log breakdown.
	ListRequests    int `json:"list_requests"`
	PerUserRequests int `json:"per_user_requests"`
	Pages           int `json:"pages"`
	// APIConnections is how many TCP connections to the simulator the
	// connector was seen holding (sampled every 250 ms).
	APIConnections int `json:"api_connections"`
	SyncedUsers    int `json:"synced_users"`
}

type config struct {
	binDir     string
	runs       []runSpec
	anonPct    int
	out        string
	appendOut  bool
	workDir    string
	label      string
	repeat     int
	connArgs   stringList
	connEnv    stringList
	sampleMS   int
	keepC1Z    bool
	traceRSS   string
	table      bool
	files      []string
	simTimeout time.Duration
	runTimeout time.Duration
}

type runSpec struct {
	users   int
	latency time.Duration
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if len(os.Args) > 1 && os.Args[1] == verifyCommand {
		if err := runVerify(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "syncbench: verify: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "syncbench: FAILED: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("syncbench", flag.ContinueOnError)
	fs.StringVar(&c.binDir, "bin", "bin", "directory holding baton-fullstory and fullstory-simulator")
	runs := fs.String("runs", "10000,100000,100000@20ms", "comma-separated runs: USERS or USERS@LATENCY")
	fs.IntVar(&c.anonPct, "anonymous-pct", 20, "anonymous users to seed, as a percentage of the identified users")
	fs.StringVar(&c.out, "out", "bench/results.json", "write the runs here as JSON (empty: do not write)")
	fs.BoolVar(&c.appendOut, "append", false, "append to the runs already in -out instead of replacing them")
	fs.StringVar(&c.workDir, "work", "", "scratch directory (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&c.label, "label", "", "label stored with each run (e.g. the change being measured)")
	fs.IntVar(&c.repeat, "repeat", 1, "run each spec this many times (every run is written; -table gives medians)")
	fs.Var(&c.connArgs, "connector-arg", "extra argument for baton-fullstory, e.g. --workers=4 (repeatable)")
	fs.Var(&c.connEnv, "connector-env", "extra NAME=VALUE environment for baton-fullstory, e.g. GOGC=50 (repeatable)")
	fs.IntVar(&c.sampleMS, "sample-ms", 20, "how often to sample the connector tree's memory")
	fs.BoolVar(&c.keepC1Z, "keep-c1z", false, "keep the c1z files in the work directory")
	fs.BoolVar(&c.table, "table", false, "print the medians of the result files named as arguments as a Markdown table, and run nothing")
	fs.StringVar(&c.traceRSS, "trace-rss", "", "append every memory sample (seconds, pid=RSS MiB) to this file")
	fs.DurationVar(&c.simTimeout, "sim-timeout", 2*time.Minute, "how long the simulator may take to start")
	fs.DurationVar(&c.runTimeout, "run-timeout", 10*time.Minute, "how long one sync may take")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.table {
		c.files = fs.Args()
		return c, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	abs, err := filepath.Abs(c.binDir)
	if err != nil {
		return nil, err
	}
	c.binDir = abs
	for _, one := range strings.Split(*runs, ",") {
		one = strings.TrimSpace(one)
		if one == "" {
			continue
		}
		spec := runSpec{}
		n, lat, hasLat := strings.Cut(one, "@")
		u, err := strconv.Atoi(strings.ReplaceAll(n, "_", ""))
		if err != nil || u < 1 {
			return nil, fmt.Errorf("-runs: %q: want USERS or USERS@LATENCY", one)
		}
		spec.users = u
		if hasLat {
			if spec.latency, err = time.ParseDuration(lat); err != nil || spec.latency < 0 {
				return nil, fmt.Errorf("-runs: %q: bad latency", one)
			}
		}
		c.runs = append(c.runs, spec)
	}
	if len(c.runs) == 0 {
		return nil, errors.New("-runs: nothing to run")
	}
	if c.repeat < 1 || c.anonPct < 0 || c.sampleMS < 1 {
		return nil, errors.New("-repeat and -sample-ms must be positive, -anonymous-pct not negative")
	}
	return c, nil
}

func run(args []string, stdout io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	if c.table {
		return printTable(stdout, c.files)
	}
	for _, name := range []string{"baton-fullstory", "fullstory-simulator"} {
		if _, err := os.Stat(filepath.Join(c.binDir, name)); err != nil {
			return fmt.Errorf("%s: %w (run make build first)", name, err)
		}
	}
	if err := becomeSubreaper(); err != nil {
		return err
	}
	if c.workDir == "" {
		dir, err := os.MkdirTemp("", "syncbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.workDir = dir
	} else if err := os.MkdirAll(c.workDir, 0o755); err != nil {
		return err
	}

	var prior []Run
	if c.out != "" && c.appendOut {
		if b, err := os.ReadFile(c.out); err == nil {
			if err := json.Unmarshal(b, &prior); err != nil {
				return fmt.Errorf("-append: %s: %w", c.out, err)
			}
		}
	}

	fmt.Fprintf(stdout, "syncbench: %d CPUs, load %s, connector args %q env %q\n",
		runtime.NumCPU(), loadAvg(), []string(c.connArgs), []string(c.connEnv))
	printHeader(stdout)
	var runs []Run
	for _, spec := range c.runs {
		var tries []Run
		for i := 0; i < c.repeat; i++ {
			r, err := benchOne(c, spec, i)
			r.Repeat = i + 1
			if err != nil {
				return fmt.Errorf("%d users, latency %v: %w", spec.users, spec.latency, err)
			}
			printRow(stdout, r, c.repeat > 1)
			tries = append(tries, r)
		}
		runs = append(runs, tries...)
		if c.repeat > 1 {
			sort.Slice(tries, func(i, j int) bool { return tries[i].WallS < tries[j].WallS })
			fmt.Fprintf(stdout, "  median wall of %d: %.2f s\n", c.repeat, tries[len(tries)/2].WallS)
		}
	}

	if c.out != "" {
		all := append(prior, runs...)
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(c.out, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "syncbench: wrote %d runs to %s\n", len(runs), c.out)
	}
	return nil
}

func benchOne(c *config, spec runSpec, try int) (Run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.simTimeout+c.runTimeout+time.Minute)
	defer cancel()
	anon := spec.users * c.anonPct / 100
	sim, err := startSimulator(ctx, c, spec.users, anon, spec.latency)
	if err != nil {
		return Run{}, err
	}
	defer sim.stop()

	c1z := filepath.Join(c.workDir, fmt.Sprintf("sync-%d-%dms-%d.c1z", spec.users, spec.latency.Milliseconds(), try))
	_ = os.Remove(c1z)
	if !c.keepC1Z {
		defer os.Remove(c1z)
	}
	// A child's ru_maxrss starts from the high-water RSS of the process
	// that forked it (the kernel carries it over at exec), so syncbench must
	// stay small: the heavy checks run in a subprocess. Record it anyway.
	_, benchHWM, _ := readMem(os.Getpid())
	res, err := runConnector(ctx, c, sim, c1z)
	if err != nil {
		return Run{}, err
	}

	r := Run{
		Users: spec.users, LatencyMS: int(spec.latency.Milliseconds()), AnonymousUsers: anon,
		Label: c.label, ConnectorArgs: c.connArgs, ConnectorEnv: c.connEnv, SampleMS: c.sampleMS,
		WallS:       round(res.wall.Seconds(), 3),
		BenchHWMMiB: round(float64(benchHWM)/1024, 1),
	}
	r.UsersPerS = round(float64(spec.users)/res.wall.Seconds(), 0)
	mib := func(kib int64) float64 { return round(float64(kib)/1024, 1) }

	// CPU and peak RSS from the kernel's accounting of finished processes:
	// baton-fullstory's wait4 rusage (its own, plus any child it reaped) and
	// that of each child it left behind for us to reap.
	user, sys := tvSeconds(res.rusage.Utime), tvSeconds(res.rusage.Stime)
	maxrss := res.rusage.Maxrss
	var orphanRSS int64
	var orphanCPU float64
	for _, ru := range res.orphans {
		user += tvSeconds(ru.Utime)
		sys += tvSeconds(ru.Stime)
		orphanCPU += tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
		orphanRSS += ru.Maxrss
		maxrss = max(maxrss, ru.Maxrss)
	}
	r.UserS, r.SysS = round(user, 2), round(sys, 2)
	r.CPUS = round(user+sys, 2)
	r.PeakRSSMiB = mib(maxrss)
	if len(res.orphans) > 0 {
		// Both processes were accounted separately: exact figures.
		r.RSSSource = "wait4"
		r.ParentHWMMiB, r.ChildHWMMiB = mib(res.rusage.Maxrss), mib(orphanRSS)
		r.ChildCPUS = round(orphanCPU, 2)
	} else {
		// The child was reaped by baton-fullstory: its rusage is folded into
		// the parent's (maxrss as a max, not a sum). Use /proc samples.
		r.RSSSource = "wait4+proc"
		r.ParentHWMMiB, r.ChildHWMMiB = mib(res.mem.parentHWM), mib(res.mem.childHWM)
		r.ChildCPUS = round(float64(res.mem.childCPU)/clockTicks, 2)
		// The parent's last moments (writing the c1z) may escape sampling;
		// a maxrss above the child's peak can only be the parent's.
		if r.PeakRSSMiB > r.ChildHWMMiB {
			r.ParentHWMMiB = max(r.ParentHWMMiB, r.PeakRSSMiB)
		}
	}
	if r.BenchHWMMiB >= r.PeakRSSMiB {
		return Run{}, fmt.Errorf("syncbench's own peak RSS (%.0f MiB) is not below the connector's (%.0f MiB): the kernel's figure is syncbench's", r.BenchHWMMiB, r.PeakRSSMiB)
	}
	r.HWMSumMiB = round(r.ParentHWMMiB+r.ChildHWMMiB, 1)
	r.TreeSampledMiB = mib(res.mem.treeRSS)
	r.APIConnections = res.mem.apiConns
	if r.APIConnections > maxAPIConnections {
		return Run{}, fmt.Errorf("the connector opened %d connections to the simulator (at most %d expected): keep-alive is not working", r.APIConnections, maxAPIConnections)
	}

	st, err := os.Stat(c1z)
	if err != nil {
		return Run{}, fmt.Errorf("the sync wrote no c1z: %w", err)
	}
	r.C1ZBytes = st.Size()

	reqs, err := sim.requests(ctx)
	if err != nil {
		return Run{}, err
	}
	if err := checkRequests(&r, reqs, spec.users, sim.logLimit); err != nil {
		return Run{}, err
	}
	if r.SyncedUsers, err = verifyInSubprocess(ctx, c1z, sim.baseURL, spec.users, c.workDir); err != nil {
		return Run{}, err
	}
	return r, nil
}

// maxAPIConnections is the most connections a sync may use: one, plus a
// few should a connection be dropped or a page be fetched ahead on another.
const maxAPIConnections = 4

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

func round(v float64, places int) float64 {
	p := 1.0
	for i := 0; i < places; i++ {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func printHeader(w io.Writer) {
	fmt.Fprintf(w, "%8s %7s %8s %9s %8s %8s %8s %8s %8s %9s %8s %5s %11s\n",
		"users", "lat_ms", "wall_s", "users/s", "cpu_s", "child_s", "rss_mib", "parent", "child", "tree_smp", "requests", "conns", "c1z_bytes")
}

func printRow(w io.Writer, r Run, _ bool) {
	fmt.Fprintf(w, "%8d %7d %8.2f %9.0f %8.2f %8.2f %8.1f %8.1f %8.1f %9.1f %8d %5d %11d\n",
		r.Users, r.LatencyMS, r.WallS, r.UsersPerS, r.CPUS, r.ChildCPUS, r.PeakRSSMiB, r.ParentHWMMiB, r.ChildHWMMiB, r.TreeSampledMiB, r.Requests, r.APIConnections, r.C1ZBytes)
}

// Command baton-fullstory-prof is baton-fullstory with CPU and heap
// profiling, for finding where a sync spends its time. It runs exactly what
// cmd/baton-fullstory runs. With SYNCBENCH_PPROF_DIR set, each process of
// the tree (the main one and its _connector-service child) writes
// cpu-<role>-<pid>.pprof there, and the main one heap-<pid>.pprof too.
// Both processes leave through os.Exit (baton-sdk kills the child when the
// sync ends and the main process exits when it sees that), so profiling
// stops after SYNCBENCH_PPROF_SECONDS (default 8): choose less than the
// sync takes.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/conductorone/baton-fullstory/connector"
	cfg "github.com/conductorone/baton-fullstory/connector/config"
	"github.com/conductorone/baton-sdk/pkg/config"
	"github.com/conductorone/baton-sdk/pkg/connectorrunner"
)

func main() {
	stop := startProfile()
	traceMemStats()
	config.RunConnector(context.Background(), "baton-fullstory", "prof", cfg.Config, connector.NewFromConfig,
		connectorrunner.WithDefaultCapabilitiesConnectorBuilderV2(&connector.Connector{}))
	stop()
}

func startProfile() func() {
	dir := os.Getenv("SYNCBENCH_PPROF_DIR")
	if dir == "" {
		return func() {}
	}
	role := "main"
	if slices.Contains(os.Args, "_connector-service") {
		role = "child"
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%s-%d.pprof", role, os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
			if role == "main" {
				if h, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", os.Getpid()))); err == nil {
					runtime.GC()
					_ = pprof.Lookup("heap").WriteTo(h, 0)
					h.Close()
				}
			}
		})
	}
	secs, err := strconv.ParseFloat(os.Getenv("SYNCBENCH_PPROF_SECONDS"), 64)
	if err != nil || secs <= 0 {
		secs = 8
	}
	time.AfterFunc(time.Duration(secs*float64(time.Second)), stop)
	return stop
}

// traceMemStats prints the Go heap's figures every SYNCBENCH_MEMSTATS_MS
// milliseconds to stderr, to tell the live heap from what the runtime holds.
func traceMemStats() {
	ms, err := strconv.Atoi(os.Getenv("SYNCBENCH_MEMSTATS_MS"))
	if err != nil || ms <= 0 {
		return
	}
	role := "main"
	if slices.Contains(os.Args, "_connector-service") {
		role = "child"
	}
	start := time.Now()
	go func() {
		for range time.Tick(time.Duration(ms) * time.Millisecond) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			status, _ := os.ReadFile("/proc/self/status")
			var rssAnon, rssFile string
			for _, line := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
					rssAnon = strings.TrimSpace(v)
				}
				if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
					rssFile = strings.TrimSpace(v)
				}
			}
			fmt.Fprintf(os.Stderr, "memstats %s %.2fs heap_alloc=%dM heap_inuse=%dM heap_idle=%dM released=%dM sys=%dM next_gc=%dM gcs=%d rss_anon=%s rss_file=%s\n",
				role, time.Since(start).Seconds(), m.HeapAlloc>>20, m.HeapInuse>>20, m.HeapIdle>>20, m.HeapReleased>>20, m.Sys>>20, m.NextGC>>20, m.NumGC, rssAnon, rssFile)
		}
	}()
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// printTable reads result files and prints, as a Markdown table, the median
// of each figure per label, user count and latency (in the order first
// seen), with the number of runs behind it and, for wall time and peak RSS,
// the range.
func printTable(w io.Writer, files []string) error {
	type key struct {
		label   string
		users   int
		latency int
	}
	groups := map[key][]Run{}
	var order []key
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var runs []Run
		if err := json.Unmarshal(b, &runs); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, r := range runs {
			k := key{r.Label, r.Users, r.LatencyMS}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], r)
		}
	}
	fmt.Fprintln(w, "| label | users | latency ms | runs | wall s (range) | users/s | CPU s (child) | peak RSS MiB (range) | parent / child MiB | requests | conns | c1z bytes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range order {
		rs := groups[k]
		sorted := func(f func(Run) float64) []float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			sort.Float64s(v)
			return v
		}
		med := func(f func(Run) float64) float64 {
			v := sorted(f)
			if len(v)%2 == 1 {
				return v[len(v)/2]
			}
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		span := func(format string, f func(Run) float64) string {
			v := sorted(f)
			if len(v) < 2 {
				return ""
			}
			return fmt.Sprintf(" ("+format+"–"+format+")", v[0], v[len(v)-1])
		}
		wall := func(r Run) float64 { return r.WallS }
		rss := func(r Run) float64 { return r.PeakRSSMiB }
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.2f%s | %.0f | %.1f (%.1f) | %.0f%s | %.0f / %.0f | %.0f | %.0f | %.0f |\n",
			k.label, k.users, k.latency, len(rs),
			med(wall), span("%.2f", wall),
			med(func(r Run) float64 { return r.UsersPerS }),
			med(func(r Run) float64 { return r.CPUS }),
			med(func(r Run) float64 { return r.ChildCPUS }),
			med(rss), span("%.0f", rss),
			med(func(r Run) float64 { return r.ParentHWMMiB }),
			med(func(r Run) float64 { return r.ChildHWMMiB }),
			med(func(r Run) float64 { return float64(r.Requests) }),
			med(func(r Run) float64 { return float64(r.APIConnections) }),
			med(func(r Run) float64 { return float64(r.C1ZBytes) }))
	}
	return nil
}

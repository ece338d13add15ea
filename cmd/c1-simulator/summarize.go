package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
)

// runSummarize prints what a c1z holds, the way the admin API's upload
// summary does: resource counts and the users. Developers use it on the
// file a one-shot sync wrote.
func runSummarize(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("c1-simulator summarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	show := fs.Int("show", 5, "users to list in the text summary")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: c1-simulator summarize [--json] [--show N] FILE.c1z\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "c1-simulator summarize: %v\n", err)
		return 1
	}
	sum, err := c1sim.SummarizeC1Z(ctx, data, "")
	if err != nil {
		fmt.Fprintf(stderr, "c1-simulator summarize: %s: %v\n", path, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			fmt.Fprintf(stderr, "c1-simulator summarize: %v\n", err)
			return 1
		}
		return 0
	}
	writeSummary(stdout, path, sum, *show)
	return 0
}

func writeSummary(w io.Writer, path string, sum c1sim.UploadSummary, show int) {
	types := make([]string, 0, len(sum.Counts))
	for t := range sum.Counts {
		types = append(types, t)
	}
	sort.Strings(types)
	var counts []string
	for _, t := range types {
		counts = append(counts, fmt.Sprintf("%d %s", sum.Counts[t], t))
	}
	if len(counts) == 0 {
		counts = []string{"no resources"}
	}
	enabled, disabled := 0, 0
	for _, u := range sum.Users {
		if strings.HasSuffix(u.Status, "DISABLED") {
			disabled++
		} else {
			enabled++
		}
	}
	fmt.Fprintf(w, "%s: %s (%d enabled, %d disabled)\n", path, strings.Join(counts, ", "), enabled, disabled)
	for i, u := range sum.Users {
		if i == show {
			fmt.Fprintf(w, "  ... and %d more\n", len(sum.Users)-show)
			break
		}
		email := ""
		for _, e := range u.Emails {
			if e.Primary {
				email = e.Address
			}
		}
		fmt.Fprintf(w, "  %-24s %-32s %-36s %s\n", u.ID, u.DisplayName, email, strings.TrimPrefix(u.Status, "RESOURCE_"))
	}
}

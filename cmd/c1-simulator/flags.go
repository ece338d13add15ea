package main

import (
	"flag"
	"fmt"
	"strings"
)

const envPrefix = "C1_SIM_"

// lookupEnvFunc is os.LookupEnv, injectable for tests.
type lookupEnvFunc func(string) (string, bool)

// stringList is a repeatable flag whose defaults are replaced by the first Set.
type stringList struct {
	vals []string
	set  bool
}

func (s *stringList) String() string { return strings.Join(s.vals, ",") }

func (s *stringList) Set(v string) error {
	if !s.set {
		s.vals, s.set = nil, true
	}
	s.vals = append(s.vals, v)
	return nil
}

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseWithEnv parses args, then fills every flag not given on the command line
// from its C1_SIM_* variable.
func parseWithEnv(fs *flag.FlagSet, args []string, lookup lookupEnvFunc) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		v, ok := lookup(envName(f.Name))
		if !ok {
			return
		}
		if list, isList := f.Value.(*stringList); isList {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					if e := list.Set(item); e != nil {
						err = e
					}
				}
			}
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
		}
	})
	return err
}

// Command c1-simulator is a fake ConductorOne tenant for baton connectors in
// service mode: the token endpoint and BatonService over TLS on one port, and
// an admin HTTP API on another. `c1-simulator credentials` mints a client.
//
// Every flag can also be set as C1_SIM_<FLAG> (upper case, dashes become
// underscores; repeatable flags take a comma-separated list); flags win.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

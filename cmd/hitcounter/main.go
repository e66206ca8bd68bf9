// Command hitcounter serves a visit counter kept in Redis.
//
//	hitcounter                    serve (configuration from the environment; see README)
//	hitcounter healthcheck        probe the local server's /readyz; exit 0 or 1
//	hitcounter healthcheck -live  probe /healthz instead
//	hitcounter version            print the version
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "hitcounter: %v\n", err)
		stop()
		os.Exit(exitCode(err))
	}
}

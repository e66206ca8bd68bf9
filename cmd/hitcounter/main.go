// Command hitcounter serves a visit counter kept in Redis.
//
//	hitcounter                    serve (configuration from the environment; see README)
//	hitcounter healthcheck        probe the local server's /readyz; exit 0 or 1
//	hitcounter healthcheck -live  probe /healthz instead
//	hitcounter export             write every counter to stdout (JSON lines), through the
//	                              local server's operator port
//	hitcounter import [FILE]      restore an export (stdin without FILE)
//	hitcounter import --from FORMAT [--dry-run] FILE|URL|-
//	                              import another counter's data: hits.sh, seeyoufarm,
//	                              moe-counter, komarev, goatcounter, abacus (docs/import.md)
//	hitcounter admin-key NS/KEY   give a counter a new admin key and print it
//	hitcounter version            print the version
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the image has no zoneinfo, and counters keep their days in any IANA time zone
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "hitcounter: %v\n", err)
		stop()
		os.Exit(exitCode(err))
	}
}

// Command pause is the test cluster's pod sandbox process: it holds a pod's namespaces and
// exits on SIGTERM or SIGINT. It replaces registry.k8s.io/pause, which these machines cannot
// pull. Built static and put alone in an image by scripts/k8s/cluster.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}

// Command startup measures how long hitcounter takes from exec to a 200 from /readyz, against
// a Redis that is already up. It prints the median of -runs starts in milliseconds.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"time"
)

func main() {
	bin := flag.String("bin", "hitcounter", "the hitcounter binary")
	port := flag.String("port", "5099", "port to serve on")
	redisPort := flag.String("redis-port", "6379", "a running redis-server on 127.0.0.1")
	runs := flag.Int("runs", 5, "starts to measure")
	flag.Parse()

	client := &http.Client{Timeout: 200 * time.Millisecond}
	var took []time.Duration
	for range *runs {
		cmd := exec.Command(*bin)
		cmd.Env = []string{"PORT=" + *port, "REDIS_HOST=127.0.0.1", "REDIS_PORT=" + *redisPort, "ACCESS_LOG=false"}
		begin := time.Now()
		if err := cmd.Start(); err != nil {
			log.Fatal(err)
		}
		deadline := begin.Add(5 * time.Second)
		for {
			resp, err := client.Get("http://127.0.0.1:" + *port + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				log.Fatal("not ready within 5s")
			}
			time.Sleep(500 * time.Microsecond)
		}
		took = append(took, time.Since(begin))
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	slices.Sort(took)
	fmt.Printf("%.1f\n", float64(took[len(took)/2].Microseconds())/1000)
}

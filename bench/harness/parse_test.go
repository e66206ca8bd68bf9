package main

import (
	"strconv"
	"strings"
	"testing"
)

const wrkOutput = `Running 8s test @ http://127.0.0.1:40237/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.32ms  36.77ms   89.12%
    Req/Sec    14.02k     1.21k   16.73k    71.25%
  Latency Distribution
     50%    1.91ms
     75%    2.43ms
     90%    3.21ms
     99%    9.00ms
  238557 requests in 8.03s, 39.37MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  29714.21
Transfer/sec:      4.90MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 29714.21 || r.p50 != "1.91ms" || r.p99 != "9.00ms" || r.total != 238557 || r.non2xx != 12 || r.socketErrors != 7 {
		t.Errorf("parseWrk = %+v", r)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parseWrk accepted output without a result")
	}
}

func TestParseRedisBenchmark(t *testing.T) {
	out := "INCR: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r" +
		"INCR: 45123.4 requests per second, p50=0.9 msec\r\n" +
		"INCR: 66181.02 requests per second, p50=0.703 msec\n"
	v, err := parseRedisBenchmark(out)
	if err != nil || v != 66181.02 {
		t.Errorf("parseRedisBenchmark = %v, %v; want 66181.02", v, err)
	}
	if _, err := parseRedisBenchmark("Could not connect to Redis\n"); err == nil {
		t.Error("parseRedisBenchmark accepted output without a figure")
	}
}

func TestParseVegetaCSV(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		code := "200"
		if i == 100 {
			code = "503"
		}
		b.WriteString("1700000000000000000," + code + "," + strconv.Itoa(i*1_000_000) + ",0,40,\"\",,,0,GET,http://127.0.0.1/,\n")
	}
	l, err := parseVegetaCSV(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if l.Requests != 100 || l.OK != 99 || l.P50 != 50 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("parseVegetaCSV = %+v", l)
	}
}

func TestSummaryTakesTheMedianRound(t *testing.T) {
	b := &bench{results: results{Rows: []row{
		{Level: "process", Name: "a", Conns: 64, RPS: 10},
		{Level: "process", Name: "b", Conns: 64, RPS: 5},
		{Level: "process", Name: "a", Conns: 64, RPS: 30},
		{Level: "process", Name: "a", Conns: 64, RPS: 20},
	}}}
	s := b.summary()
	if len(s) != 2 || s[0].Name != "a" || s[0].RPS != 20 || s[1].Name != "b" {
		t.Errorf("summary = %+v", s)
	}
}

func TestCheckCountsOK(t *testing.T) {
	if got := countOK("223530 2xx, counter +223564"); got != 223530 {
		t.Errorf("countOK = %d", got)
	}
	if got := countOK("-"); got != 0 {
		t.Errorf("countOK(-) = %d", got)
	}
}

func TestParseRedisInfo(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=1200,usec=9000,usec_per_call=7.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hincrby:calls=1200,usec=1200,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n" +
		"\n# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.000000\r\n"
	st := parseRedisInfo(info)
	if st.calls["evalsha"] != 1200 || st.calls["hincrby"] != 1200 || len(st.calls) != 2 {
		t.Errorf("calls = %v", st.calls)
	}
	if st.cpu != 3.75 {
		t.Errorf("cpu = %v, want 3.75 (user + sys, not the children's)", st.cpu)
	}
}

func TestMemoryPerCounter(t *testing.T) {
	r := memoryResult{Counters: 1000, Before: 1_000_000, After: 1_250_500}
	if got := r.perCounter(); got != 250.5 {
		t.Errorf("perCounter = %v", got)
	}
}

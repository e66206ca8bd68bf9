package main

import (
	"encoding/json"
	"os"
	"time"
)

// results is everything the report is written from. BENCH_SAVE=FILE writes it after a run;
// BENCH_RENDER=FILE writes the report and chart from such a file without measuring anything,
// to re-render after docs/benchmarks-analysis.md was edited.
type results struct {
	Rows           []row
	Metrics        map[string]float64
	Exact          []exactRun
	Latency        *latencyResult
	Clients        []clientResult
	CPUShare       []cpuShare
	LoadAtStart    string
	LoadAtEnd      string
	Commit         string
	GoVersion      string
	RedisVersion   string
	DockerVersion  string
	Started        time.Time
	DurationArg    string
	Threads        int
	Rounds         int
	Baseline       string
	Stack          bool
	VegetaDuration time.Duration
	ClientDuration time.Duration
	Failures       []string
	Costs          []runCost      `json:",omitempty"`
	Memory         []memoryResult `json:",omitempty"`
	OnlyRows       []string       `json:",omitempty"`
}

func (b *bench) save(path string) error {
	r := results{b.rows, b.metrics, b.exact, b.latency, b.clients, b.cpuShare, b.loadAtStart, b.loadAtEnd,
		b.commit, b.goVersion, b.redisVersion, b.dockerVersion, b.started, b.durationArg, b.threads, b.rounds,
		b.baseline, b.stack, b.vegetaDuration, b.clientDuration, b.failures, b.costs, b.memoryResults, b.onlyRows}
	data, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func (b *bench) load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(data, &r); err != nil {
		return err
	}
	b.rows, b.metrics, b.exact, b.latency, b.clients, b.cpuShare = r.Rows, r.Metrics, r.Exact, r.Latency, r.Clients, r.CPUShare
	b.loadAtStart, b.loadAtEnd = r.LoadAtStart, r.LoadAtEnd
	b.commit, b.goVersion, b.redisVersion, b.dockerVersion = r.Commit, r.GoVersion, r.RedisVersion, r.DockerVersion
	b.started, b.durationArg, b.threads, b.rounds, b.baseline, b.stack = r.Started, r.DurationArg, r.Threads, r.Rounds, r.Baseline, r.Stack
	b.vegetaDuration, b.clientDuration, b.failures = r.VegetaDuration, r.ClientDuration, r.Failures
	b.costs, b.memoryResults, b.onlyRows = r.Costs, r.Memory, r.OnlyRows
	if b.metrics == nil {
		b.metrics = map[string]float64{}
	}
	return nil
}

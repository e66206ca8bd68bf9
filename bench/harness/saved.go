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
	Baseline       string // commit of the "before" row; "" for none
	Stack          bool
	VegetaDuration time.Duration
	ClientDuration time.Duration
	Failures       []string
	Costs          []runCost      `json:",omitempty"`
	Memory         []memoryResult `json:",omitempty"`
	OnlyRows       []string       `json:",omitempty"` // BENCH_ROWS: the only process-level rows run; nil for all
}

func (b *bench) save(path string) error {
	data, err := json.MarshalIndent(b.results, "", "\t")
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
	if err := json.Unmarshal(data, &b.results); err != nil {
		return err
	}
	if b.Metrics == nil {
		b.Metrics = map[string]float64{}
	}
	return nil
}

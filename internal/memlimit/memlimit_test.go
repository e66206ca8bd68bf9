package memlimit

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"
)

const (
	mib      = 1 << 20
	v1NoLim  = "9223372036854771712\n" // what cgroup v1 shows for "no limit" (4 KiB pages)
	dockerV1 = "12:memory:/docker/0123abcd\n11:pids:/docker/0123abcd\n0::/system.slice/containerd.service\n"
)

func files(kv ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		fsys[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return fsys
}

func TestFromCgroup(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want int64
	}{
		{"no cgroup files at all (not Linux)", files(), 0},
		{
			"v2 container, own namespace, mem_limit 64m",
			files("proc/self/cgroup", "0::/\n", "sys/fs/cgroup/memory.max", "67108864\n"),
			64 * mib,
		},
		{
			"v2 container without a limit",
			files("proc/self/cgroup", "0::/\n", "sys/fs/cgroup/memory.max", "max\n"),
			0,
		},
		{
			"v2 host process: the lowest limit on the way up wins",
			files(
				"proc/self/cgroup", "0::/system.slice/app.service\n",
				"sys/fs/cgroup/system.slice/app.service/memory.max", "max\n",
				"sys/fs/cgroup/system.slice/memory.max", "134217728\n",
			),
			128 * mib,
		},
		{
			"v2 host process in a limited service under a tighter slice",
			files(
				"proc/self/cgroup", "0::/a.slice/b.service\n",
				"sys/fs/cgroup/a.slice/b.service/memory.max", "268435456\n",
				"sys/fs/cgroup/a.slice/memory.max", "536870912\n",
			),
			256 * mib,
		},
		{
			"v1 container (this CI machine): the mount is the container's cgroup",
			files("proc/self/cgroup", dockerV1, "sys/fs/cgroup/memory/memory.limit_in_bytes", "67108864\n"),
			64 * mib,
		},
		{
			"v1 without a limit",
			files("proc/self/cgroup", dockerV1, "sys/fs/cgroup/memory/memory.limit_in_bytes", v1NoLim),
			0,
		},
		{
			"v1 host process in a limited cgroup below the root",
			files(
				"proc/self/cgroup", "5:memory:/system.slice/app.service\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes", v1NoLim,
				"sys/fs/cgroup/memory/system.slice/app.service/memory.limit_in_bytes", "33554432",
			),
			32 * mib,
		},
		{
			"v1 with the memory controller sharing a hierarchy",
			files(
				"proc/self/cgroup", "4:cpu,memory:/job\n",
				"sys/fs/cgroup/memory/job/memory.limit_in_bytes", "16777216\n",
			),
			16 * mib,
		},
		{
			"no proc, limit file only",
			files("sys/fs/cgroup/memory.max", "1048576"),
			1 * mib,
		},
		{
			"zero is no limit",
			files("proc/self/cgroup", "0::/\n", "sys/fs/cgroup/memory.max", "0\n"),
			0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromCgroup(tt.fsys)
			if err != nil {
				t.Fatalf("FromCgroup() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("FromCgroup() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFromCgroupUnparsable(t *testing.T) {
	for _, content := range []string{"", "lots\n", "-1\n", "64m\n"} {
		fsys := files("proc/self/cgroup", "0::/\n", "sys/fs/cgroup/memory.max", content)
		got, err := FromCgroup(fsys)
		if err == nil {
			t.Errorf("memory.max %q: FromCgroup() = %d, nil; want an error", content, got)
		} else if !strings.Contains(err.Error(), "sys/fs/cgroup/memory.max") {
			t.Errorf("memory.max %q: error %q does not name the file", content, err)
		}
	}
}

// restoreLimit puts the test process's memory limit back when the test ends.
func restoreLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
}

func TestApply(t *testing.T) {
	limited := files("proc/self/cgroup", "0::/\n", "sys/fs/cgroup/memory.max", "67108864\n")
	noEnv := func(string) string { return "" }

	t.Run("cgroup limit", func(t *testing.T) {
		restoreLimit(t)
		debug.SetMemoryLimit(math.MaxInt64)
		got := apply(noEnv, limited)
		want := Result{Limit: 60397977, Source: "cgroup", Cgroup: 64 * mib} // floor(0.9 × 64 MiB)
		if got != want {
			t.Errorf("apply() = %+v, want %+v", got, want)
		}
		if now := debug.SetMemoryLimit(-1); now != want.Limit {
			t.Errorf("runtime memory limit = %d, want %d", now, want.Limit)
		}
	})
	t.Run("GOMEMLIMIT set wins", func(t *testing.T) {
		restoreLimit(t)
		debug.SetMemoryLimit(100 * mib) // what the runtime made of GOMEMLIMIT=100MiB
		env := func(k string) string {
			if k == "GOMEMLIMIT" {
				return "100MiB"
			}
			return ""
		}
		got := apply(env, limited)
		want := Result{Limit: 100 * mib, Source: "GOMEMLIMIT"}
		if got != want {
			t.Errorf("apply() = %+v, want %+v", got, want)
		}
		if now := debug.SetMemoryLimit(-1); now != 100*mib {
			t.Errorf("runtime memory limit = %d, want %d (unchanged)", now, 100*mib)
		}
	})
	t.Run("no limit", func(t *testing.T) {
		restoreLimit(t)
		debug.SetMemoryLimit(math.MaxInt64)
		got := apply(noEnv, files("proc/self/cgroup", "0::/\n", "sys/fs/cgroup/memory.max", "max\n"))
		want := Result{Limit: math.MaxInt64, Source: "none"}
		if got != want {
			t.Errorf("apply() = %+v, want %+v", got, want)
		}
	})
	t.Run("unreadable limit changes nothing", func(t *testing.T) {
		restoreLimit(t)
		debug.SetMemoryLimit(math.MaxInt64)
		got := apply(noEnv, files("proc/self/cgroup", "0::/\n", "sys/fs/cgroup/memory.max", "junk"))
		if got.Source != "none" || got.Limit != math.MaxInt64 || got.Err == nil {
			t.Errorf("apply() = %+v, want source none, no limit and an error", got)
		}
		if now := debug.SetMemoryLimit(-1); now != math.MaxInt64 {
			t.Errorf("runtime memory limit = %d, want unchanged", now)
		}
	})
}

func TestResultLogValue(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{
			Result{Limit: 60397977, Source: "cgroup", Cgroup: 64 * mib},
			`{"source":"cgroup","gomemlimit":60397977,"cgroup_limit":67108864}`,
		},
		{Result{Limit: math.MaxInt64, Source: "none"}, `{"source":"none","gomemlimit":"none"}`},
		{Result{Limit: 100 * mib, Source: "GOMEMLIMIT"}, `{"source":"GOMEMLIMIT","gomemlimit":104857600}`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "memory_limit", tt.r)
		var line struct {
			MemoryLimit json.RawMessage `json:"memory_limit"`
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", buf.String(), err)
		}
		if got := string(line.MemoryLimit); got != tt.want {
			t.Errorf("memory_limit = %s, want %s", got, tt.want)
		}
	}
}

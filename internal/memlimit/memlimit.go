// Package memlimit sets the Go runtime's soft memory limit (GOMEMLIMIT) from the memory limit
// of the cgroup the process runs in, so that the garbage collector works harder before the
// kernel's OOM killer would end a container that is close to its mem_limit.
//
// The rule: GOMEMLIMIT in the environment wins (the runtime has already applied it). Otherwise
// the lowest memory limit found in the process's cgroup (v2 memory.max, v1
// memory.limit_in_bytes) times Fraction becomes the runtime's limit. No limit found: nothing
// changes.
//
// github.com/KimMachineGun/automemlimit does the same and more (it resolves cgroup v1 mounts
// through /proc/self/mountinfo, and can refresh the limit); the fixed paths here cover a
// container, where the cgroup's own files are at the top of /sys/fs/cgroup, and a host process
// in a limited cgroup, without a dependency.
package memlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction of the cgroup limit given to the Go heap and runtime. The rest is headroom for
// what the runtime's limit does not count (the binary's text, thread stacks outside Go, the
// kernel's page cache charged to the cgroup). 90% is the figure the Go GC guide's examples
// and most libraries use; at web's mem_limit of 64 MiB it leaves 6.4 MiB.
const Fraction = 0.9

// noLimitAbove: cgroup v1 says "no limit" with the kernel's page-counter maximum (about 2^63
// rounded down to a page), v2 with "max". Anything above 2^62 bytes (4 EiB) is no limit.
const noLimitAbove = 1 << 62

// Result says what Apply did. It is a slog.LogValuer for the start log line.
type Result struct {
	// Limit is the runtime's memory limit after Apply, in bytes; math.MaxInt64 means none.
	Limit int64
	// Source is "GOMEMLIMIT" (set in the environment), "cgroup" (derived here) or "none".
	Source string
	// Cgroup is the cgroup memory limit found, in bytes; 0 when there is none.
	Cgroup int64
	// Err is a cgroup file that could not be read or parsed; Apply then changes nothing.
	Err error
}

// LogValue implements slog.LogValuer.
func (r Result) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("source", r.Source)}
	if r.Limit == math.MaxInt64 {
		attrs = append(attrs, slog.String("gomemlimit", "none"))
	} else {
		attrs = append(attrs, slog.Int64("gomemlimit", r.Limit))
	}
	if r.Cgroup > 0 {
		attrs = append(attrs, slog.Int64("cgroup_limit", r.Cgroup))
	}
	if r.Err != nil {
		attrs = append(attrs, slog.String("error", r.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// Apply sets the runtime's memory limit from the cgroup unless GOMEMLIMIT is set, and returns
// what it did. Call it once, early in the process.
func Apply(getenv func(string) string) Result {
	return apply(getenv, os.DirFS("/"))
}

func apply(getenv func(string) string, root fs.FS) Result {
	current := debug.SetMemoryLimit(-1)
	if getenv("GOMEMLIMIT") != "" {
		return Result{Limit: current, Source: "GOMEMLIMIT"}
	}
	limit, err := FromCgroup(root)
	if err != nil || limit == 0 {
		return Result{Limit: current, Source: "none", Err: err}
	}
	goLimit := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(goLimit)
	return Result{Limit: goLimit, Source: "cgroup", Cgroup: limit}
}

// FromCgroup returns the lowest memory limit, in bytes, that applies to this process's cgroup,
// or 0 when there is none. root is the file system root ("/" in production). It looks at:
//
//   - cgroup v2: memory.max of the process's cgroup (from proc/self/cgroup's "0::" line) and of
//     each parent up to the mount at sys/fs/cgroup. In a container (its own cgroup namespace)
//     that is sys/fs/cgroup/memory.max.
//   - cgroup v1: sys/fs/cgroup/memory/memory.limit_in_bytes, which in a container is the
//     container's own cgroup, and the process's memory cgroup below that mount (a host
//     process in a limited cgroup).
//
// Files that do not exist are skipped; a file that exists but cannot be read or parsed is an
// error.
func FromCgroup(root fs.FS) (int64, error) {
	v1Path, v2Path, err := ownCgroups(root)
	if err != nil {
		return 0, err
	}
	var files []string
	if v2Path != "" {
		for dir := v2Path; ; dir = path.Dir(dir) {
			files = append(files, path.Join("sys/fs/cgroup", dir, "memory.max"))
			if dir == "/" || dir == "." {
				break
			}
		}
	} else {
		files = append(files, "sys/fs/cgroup/memory.max")
	}
	files = append(files, "sys/fs/cgroup/memory/memory.limit_in_bytes")
	if v1Path != "" && v1Path != "/" {
		files = append(files, path.Join("sys/fs/cgroup/memory", v1Path, "memory.limit_in_bytes"))
	}

	var lowest int64
	for _, name := range files {
		limit, err := readLimit(root, name)
		if err != nil {
			return 0, err
		}
		if limit > 0 && (lowest == 0 || limit < lowest) {
			lowest = limit
		}
	}
	return lowest, nil
}

// ownCgroups reads proc/self/cgroup: the v1 memory controller's path and the v2 path. A
// missing file (not Linux, or no /proc) is no cgroup, not an error.
func ownCgroups(root fs.FS) (v1, v2 string, err error) {
	data, err := fs.ReadFile(root, "proc/self/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("memlimit: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		id, rest, ok1 := strings.Cut(sc.Text(), ":")
		controllers, cgPath, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || !strings.HasPrefix(cgPath, "/") {
			continue
		}
		cgPath = path.Clean(cgPath)
		if id == "0" && controllers == "" {
			v2 = cgPath
			continue
		}
		for c := range strings.SplitSeq(controllers, ",") {
			if c == "memory" {
				v1 = cgPath
			}
		}
	}
	return v1, v2, nil
}

// readLimit reads one memory.max or memory.limit_in_bytes: 0 for no limit or no file.
func readLimit(root fs.FS, name string) (int64, error) {
	data, err := fs.ReadFile(root, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("memlimit: %w", err)
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memlimit: %s: %q is not a number of bytes", name, s)
	}
	if n == 0 || n > noLimitAbove {
		return 0, nil
	}
	return int64(n), nil
}

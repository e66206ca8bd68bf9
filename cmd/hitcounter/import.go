package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/importers"
)

const importUsage = `usage: hitcounter import [FILE | -]    restore an export (stdin without FILE)
       hitcounter import --from FORMAT [flags] FILE | URL | -
FORMAT: hitcounter, hits.sh, seeyoufarm, moe-counter, komarev, goatcounter, abacus (docs/import.md)
flags:
  --dry-run          read and check everything, print what would be imported, send nothing
  --namespace NS     moe-counter (default moe) and komarev (default ghpvc): the counters' namespace
  --name NS/KEY      hits.sh, komarev (one file): the counter
  --page URL         hits.sh: the page, named as the seeyoufarm badge names it
  --site HOST        goatcounter: the site the export's paths are on
  --base-url URL     abacus: the instance to read (FILE lists namespace/key, one a line)
  --concurrency N    abacus: requests at once (default 4, at most 32)
  --timeout D        a URL source's download and each abacus request (default 30s)`

// importMemoryLimit is the import's soft memory limit (GOMEMLIMIT overrides it): the web
// container has 64 MiB, and the server's share stays free.
const importMemoryLimit = 24 << 20

// importFlags are the import subcommand's command line.
type importFlags struct {
	from, namespace, name, page, site, baseURL string
	dryRun                                     bool
	concurrency                                int
	timeout                                    time.Duration
	source                                     string
}

func parseImportFlags(args []string) (importFlags, error) {
	var f importFlags
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.from, "from", "", "")
	fs.BoolVar(&f.dryRun, "dry-run", false, "")
	fs.StringVar(&f.namespace, "namespace", "", "")
	fs.StringVar(&f.name, "name", "", "")
	fs.StringVar(&f.page, "page", "", "")
	fs.StringVar(&f.site, "site", "", "")
	fs.StringVar(&f.baseURL, "base-url", "", "")
	fs.IntVar(&f.concurrency, "concurrency", 4, "")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "")
	if err := fs.Parse(args); err != nil {
		return f, usageError{fmt.Errorf("import: %w\n%s", err, importUsage)}
	}
	if fs.NArg() > 1 {
		return f, usageError{fmt.Errorf("import: one source at most, got %d\n%s", fs.NArg(), importUsage)}
	}
	f.source = fs.Arg(0)
	if f.from == "" && fs.NFlag() > 0 {
		return f, usageError{fmt.Errorf("import: these flags need --from FORMAT\n%s", importUsage)}
	}
	if f.from != "" && !slices.Contains(importers.Formats, f.from) {
		return f, usageError{fmt.Errorf("import: unknown format %q\n%s", f.from, importUsage)}
	}
	if f.from == "abacus" && f.baseURL == "" {
		return f, usageError{errors.New("import --from abacus: --base-url is required (the instance, e.g. https://abacus.jasoncameron.dev)")}
	}
	if f.timeout <= 0 || f.timeout > time.Hour {
		return f, usageError{errors.New("import: --timeout must be between 0 and 1h")}
	}
	return f, nil
}

// importCommand restores the counters of an export (without --from, streamed to the server as
// it is read), or reads another service's data (--from FORMAT): all of it is read and checked
// first, so that a bad record stops the import before anything is sent, and then sent as
// /admin/import lines, which set each counter (and its days) to a fixed state: running it again
// changes nothing.
func importCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parseImportFlags(args)
	if err != nil {
		return err
	}
	if f.from == "" {
		return restoreExport(ctx, f.source, getenv, stdin, stdout)
	}
	if getenv("GOMEMLIMIT") == "" {
		// The import runs in the web container, under its memory limit beside the server: the
		// collector works harder rather than let garbage take the server's room.
		debug.SetMemoryLimit(importMemoryLimit)
	}
	parsed, err := readSource(ctx, f, stdin, stderr)
	if err != nil {
		var le *importers.LineError
		if errors.As(err, &le) || counter.ErrorCode(err) == counter.EINVALID {
			return fmt.Errorf("import --from %s: %s; nothing was imported", f.from, importMessage(err))
		}
		return fmt.Errorf("import --from %s: %w; nothing was imported", f.from, err)
	}
	days := 0
	for _, r := range parsed.Records {
		days += len(r.Days)
	}
	if f.dryRun {
		for _, r := range parsed.Records {
			fmt.Fprintln(stdout, describe(r))
		}
		fmt.Fprintf(stdout, "dry run: %d counters, %d days of history%s; nothing was sent\n", len(parsed.Records), days, note(parsed.Dropped))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, operatorTransferTimeout)
	defer cancel()
	// The lines are written as they are sent, not first into a buffer: the records are what
	// the import holds (a pipe's writer ends when the request is over, read or not).
	body, lines := io.Pipe()
	bar := newProgress(stderr, "sending", len(parsed.Records))
	go func() {
		for _, r := range parsed.Records {
			line, err := importers.Line(r)
			if err == nil {
				_, err = lines.Write(append(line, '\n'))
			}
			if err != nil {
				lines.CloseWithError(err)
				return
			}
			bar.add(1)
		}
		lines.Close()
	}()
	res, err := postImport(ctx, getenv, body)
	body.Close()
	bar.done()
	if err != nil {
		return err
	}
	skipped := ""
	if res.DaysSkipped > 0 {
		skipped = " (older than the history the server keeps)"
	}
	fmt.Fprintf(stdout, "imported: %d created, %d updated, %d unchanged; days: %d set, %d unchanged, %d skipped%s%s\n",
		res.Created, res.Updated, res.Unchanged, res.Days, res.DaysUnchanged, res.DaysSkipped, skipped, note(parsed.Dropped))
	return nil
}

// importMessage is a refused input's message for the operator: the line and what is wrong.
func importMessage(err error) string {
	var le *importers.LineError
	if errors.As(err, &le) {
		return le.Error()
	}
	return counter.ErrorMessage(err)
}

func note(dropped string) string {
	if dropped == "" {
		return ""
	}
	return "; " + dropped
}

// describe is one record of a dry run.
func describe(r importers.Record) string {
	s := fmt.Sprintf("%s total=%d", r.Name, r.Total)
	if !r.Created.IsZero() {
		s += " created=" + r.Created.UTC().Format(time.RFC3339)
	}
	if n := len(r.Days); n > 0 {
		s += fmt.Sprintf(" days=%d (%s to %s)", n, r.Days[0].Date.Format(time.DateOnly), r.Days[n-1].Date.Format(time.DateOnly))
	}
	if r.Source != "" {
		s += fmt.Sprintf(" from %q", r.Source)
	}
	return s
}

// restoreExport is import without --from: the export streamed to the server as it is read (a
// million counters need not fit in memory); the server refuses a bad line, having applied the
// lines before it (docs/api.md).
func restoreExport(ctx context.Context, source string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	in := stdin
	if source != "" && source != "-" {
		f, err := os.Open(source)
		if err != nil {
			return usageError{fmt.Errorf("import: %w", err)}
		}
		defer f.Close()
		in = f
	}
	ctx, cancel := context.WithTimeout(ctx, operatorTransferTimeout)
	defer cancel()
	res, err := postImport(ctx, getenv, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported: %d created, %d updated, %d unchanged\n", res.Created, res.Updated, res.Unchanged)
	return nil
}

// postImport sends import lines to the server's /admin/import and reads its answer.
func postImport(ctx context.Context, getenv func(string) string, lines io.Reader) (counter.ImportResult, error) {
	resp, err := operatorRequest(ctx, getenv, http.MethodPost, "/admin/import", lines)
	if err != nil {
		return counter.ImportResult{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return counter.ImportResult{}, fmt.Errorf("import: %w", answerError(resp))
	}
	var res counter.ImportResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&res); err != nil {
		return counter.ImportResult{}, fmt.Errorf("import: reading the answer: %w", err)
	}
	return res, nil
}

// readSource reads and checks the whole source of an import --from.
func readSource(ctx context.Context, f importFlags, stdin io.Reader, stderr io.Writer) (importers.Parsed, error) {
	opt := importers.Options{Now: time.Now(), Namespace: f.namespace, Site: f.site}
	if opt.Namespace == "" {
		opt.Namespace = map[string]string{"moe-counter": "moe", "komarev": "ghpvc"}[f.from]
	}
	var err error
	switch {
	case f.name != "":
		ns, key, _ := strings.Cut(f.name, "/")
		if opt.Name, err = counter.ParseName(ns, key); err != nil {
			return importers.Parsed{}, usageError{fmt.Errorf("--name: %s", counter.ErrorMessage(err))}
		}
	case f.page != "":
		if opt.Name, err = counter.SeeyoufarmName(f.page); err != nil {
			return importers.Parsed{}, usageError{fmt.Errorf("--page: %s", counter.ErrorMessage(err))}
		}
	case f.from == "hits.sh" && strings.Contains(f.source, "/api/urns/"):
		// The answer of https://hits.sh/api/urns/{page} does not name its page; its URL does.
		_, page, _ := strings.Cut(f.source, "/api/urns/")
		if opt.Name, err = counter.SeeyoufarmName(page); err != nil {
			return importers.Parsed{}, err
		}
	case f.from == "komarev" && f.source != "" && f.source != "-":
		base := filepath.Base(f.source)
		user, ok := strings.CutSuffix(base, "-views-count")
		if !ok {
			user, ok = strings.CutSuffix(base, "-views")
		}
		if ok {
			if opt.Name, err = importers.KomarevUser(opt.Namespace, user); err != nil {
				return importers.Parsed{}, err
			}
		}
	}

	if fi, err := os.Stat(f.source); f.from == "komarev" && err == nil && fi.IsDir() {
		return importers.KomarevDir(os.DirFS(f.source), opt)
	}
	input, err := openSource(ctx, f.source, f.timeout, stdin)
	if err != nil {
		return importers.Parsed{}, err
	}
	defer input.Close()
	if f.from != "abacus" {
		return importers.Parse(f.from, input, opt)
	}
	list, err := importers.ReadAll(input, 0)
	if err != nil {
		return importers.Parsed{}, err
	}
	in := importers.Instance{Base: f.baseURL, Concurrency: f.concurrency, Timeout: f.timeout}
	if bar := newProgress(stderr, "reading", 0); bar != nil {
		in.Progress = bar.set
		defer bar.done()
	}
	return importers.Abacus(ctx, list, in)
}

// openSource opens stdin ("" or "-"), an http(s) URL (downloaded within timeout) or a file.
func openSource(ctx context.Context, source string, timeout time.Duration, stdin io.Reader) (io.ReadCloser, error) {
	switch {
	case source == "" || source == "-":
		return io.NopCloser(stdin), nil
	case strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://"):
		// Read as it is parsed (the importer bounds its size); the timeout covers the whole
		// download, so a server that sends slowly cannot hold the import open.
		ctx, cancel := context.WithTimeout(ctx, timeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
		if err != nil {
			cancel()
			return nil, usageError{fmt.Errorf("import: %w", err)}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("downloading the source: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			cancel()
			return nil, fmt.Errorf("downloading the source: %s", resp.Status)
		}
		return download{ReadCloser: resp.Body, cancel: cancel}, nil
	}
	fi, err := os.Stat(source)
	if err != nil {
		return nil, usageError{fmt.Errorf("import: %w", err)}
	}
	if fi.IsDir() {
		return nil, usageError{fmt.Errorf("import: %s is a directory (only komarev's storage directory is read as one)", source)}
	}
	file, err := os.Open(source)
	if err != nil {
		return nil, usageError{fmt.Errorf("import: %w", err)}
	}
	return file, nil
}

// download is a URL source's body; closing it ends its timeout too.
type download struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (d download) Close() error {
	err := d.ReadCloser.Close()
	d.cancel()
	return err
}

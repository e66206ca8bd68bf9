package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/exportline"
)

// Counters moving out and in, as JSON lines (internal/exportline): the operator's export and
// import, and a namespace owner's export (namespace.go). docs/api.md, "Moving counters in and
// out".

// transferTimeout replaces the server's read and write timeouts for an export or import, which
// move every counter and may take minutes.
const transferTimeout = 30 * time.Minute

// importBatch is how many lines go to the store together.
const importBatch = 1000

// maxImportLine bounds one line of an import: the format's own bound.
const maxImportLine = exportline.MaxLine

func handleExport(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := d.operator(r); err != nil {
			return err
		}
		return streamExport(w, r, m, "export", d.Counters.Export)
	}
}

// streamExport answers export's counters as JSON lines, the status once the first is read: an
// export refused before it starts is returned, for an error answer; one that fails half way
// breaks the connection.
func streamExport(w http.ResponseWriter, r *http.Request, m *Metrics, op string, export func(context.Context, func(counter.Info) error) error) error {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(transferTimeout))
	started := false
	start := func() {
		if !started {
			setBodyHeaders(w.Header(), "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
	}
	enc := json.NewEncoder(w)
	err := export(r.Context(), func(info counter.Info) error {
		start()
		return enc.Encode(exportline.Of(info))
	})
	if err != nil {
		m.countFailure(op, err)
		if !started {
			return err
		}
		// Half an export must not pass for a whole one: break the connection, so the client
		// sees a truncated transfer rather than a clean end.
		noteError(w, err)
		panic(http.ErrAbortHandler)
	}
	start() // no counters: an empty export
	return nil
}

func handleImport(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := d.operator(r); err != nil {
			return err
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(transferTimeout))
		_ = rc.SetWriteDeadline(time.Now().Add(transferTimeout))

		var total counter.ImportResult
		batch := make([]counter.Record, 0, importBatch)
		first, line := 0, 0 // the batch's first line, the line being read
		// flush writes the batch; its failure names the batch's lines, since its lines are
		// written concurrently and any of them may have been applied.
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			res, err := d.Counters.Import(r.Context(), batch)
			total.Created += res.Created
			total.Updated += res.Updated
			total.Unchanged += res.Unchanged
			total.Days += res.Days
			total.DaysUnchanged += res.DaysUnchanged
			total.DaysSkipped += res.DaysSkipped
			batch = batch[:0]
			if err != nil {
				return importFailed(m, fmt.Sprintf("lines %d-%d", first, line), err, total)
			}
			return nil
		}
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 0, maxImportLine), maxImportLine)
		for sc.Scan() {
			line++
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			info, err := exportline.Parse(sc.Bytes(), d.Counters.Now())
			if err != nil {
				// Everything before the bad line is applied, so that the answer is simple: all
				// lines before N, and none from N on.
				line--
				if err := flush(); err != nil {
					return err
				}
				return importFailed(m, fmt.Sprintf("line %d", line+1), err, total)
			}
			if len(batch) == 0 {
				first = line
			}
			batch = append(batch, info)
			if len(batch) == importBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := sc.Err(); err != nil {
			msg := "reading the body: " + err.Error()
			if errors.Is(err, bufio.ErrTooLong) {
				msg = fmt.Sprintf("a line is longer than %d bytes", maxImportLine)
			}
			if err := flush(); err != nil {
				return err
			}
			return importFailed(m, fmt.Sprintf("line %d", line+1), counter.Errorf(counter.EINVALID, err, "%s", msg), total)
		}
		if err := flush(); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, total)
		return nil
	}
}

// importFailed is the error of a failed import: where (a line, or the lines of a batch the store
// refused), what, and what was applied, under err's code. Re-running the whole import is safe,
// since each line sets its counter to a fixed state.
func importFailed(m *Metrics, where string, err error, done counter.ImportResult) error {
	m.countFailure("import", err)
	return counter.Errorf(counter.ErrorCode(err), err,
		"%s: %s (applied: %d created, %d updated, %d unchanged; fix it and import again: lines already imported do not change)",
		where, counter.ErrorMessage(err), done.Created, done.Updated, done.Unchanged)
}

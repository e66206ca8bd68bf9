// Package importers reads other counters' data (and hitcounter's own export) into records: a
// counter's name, its total and, where the format has them, its created time and daily history.
// Each format is one file and a pure function of its input, but for Abacus/CountAPI, which is
// read from a live instance. Every record is checked here, so that a bad one is refused with its
// line before anything is sent; the names follow docs/import.md.
package importers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/exportline"
)

// Record is one counter as read from an import's input.
type Record struct {
	Name  counter.Name
	Total int64
	// Created is when the counter began, zero when the format does not say.
	Created time.Time
	// Days are the counter's hits per UTC day, oldest first.
	Days []counter.DayCount
	// Line is where the record starts in the input (1 for a format of one record).
	Line int
	// Source is what the format called the counter, when that is not its name here.
	Source string
	// Exact: hitcounter's own export, which is restored as it is (created time, admin key);
	// every other format leaves an existing counter's created time and admin key alone.
	Exact        bool
	AdminKeyHash string
	// Settings are the counter's settings when the format carries them (hitcounter's own
	// export, for a counter whose are not the defaults); nil leaves a counter's as they are.
	Settings *counter.Settings
}

// Parsed is what an importer read.
type Parsed struct {
	Records []Record
	// Dropped says what of the input was left out on purpose (bot rows, events), for the
	// summary.
	Dropped string
}

// Options are what a format may need besides its input.
type Options struct {
	// Now is the import's time: "today" of a format that gives today's hits, and the day after
	// which no day may be.
	Now time.Time
	// Namespace is where the counters of a format without one go (Moe-Counter, komarev).
	Namespace string
	// Name is the counter of a format that holds one without naming it (hits.sh).
	Name counter.Name
	// Site is the host a GoatCounter export's paths are on.
	Site string
	// MaxInput bounds the input (0: MaxInput).
	MaxInput int
}

// LineError is a record refused: its line in the input and why.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, counter.ErrorMessage(e.Err))
}

func (e *LineError) Unwrap() error { return e.Err }

// lineErr is a LineError with a message.
func lineErr(line int, format string, args ...any) error {
	return &LineError{Line: line, Err: counter.Errorf(counter.EINVALID, nil, format, args...)}
}

// MaxInput bounds what an importer reads: a year of GoatCounter pageviews of a busy site is
// about this, and everything is read and checked before anything is sent.
const MaxInput = 256 << 20

// ReadAll reads r whole, refusing more than max bytes (0: MaxInput) rather than reading part.
func ReadAll(r io.Reader, max int) ([]byte, error) {
	in := &bounded{r: r, left: int64(limit(max))}
	b, err := io.ReadAll(in)
	if in.err != nil {
		return nil, in.err
	}
	return b, err
}

func limit(max int) int {
	if max <= 0 {
		return MaxInput
	}
	return max
}

// bounded reads r, and fails rather than stops short past left bytes: an input over the bound
// is refused, never imported in part.
type bounded struct {
	r     io.Reader
	left  int64
	total int64
	err   error // set once the input went past the bound
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.r.Read(one[:]); n == 0 {
			return 0, err
		}
		b.err = counter.Errorf(counter.EINVALID, nil, "the input is larger than %d bytes", b.total)
		return 0, b.err
	}
	if b.total == 0 {
		b.total = b.left
	}
	p = p[:min(int64(len(p)), b.left)]
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// lineAt is the line of byte offset off in b, skipping the white space that precedes a JSON
// value there.
func lineAt(b []byte, off int64) int {
	off = min(off, int64(len(b)))
	for off < int64(len(b)) && strings.ContainsRune(" \t\r\n,", rune(b[off])) {
		off++
	}
	return 1 + bytes.Count(b[:off], []byte("\n"))
}

// keyOrHash is s as a namespace or key when it may be one, else "h-" and 24 hex digits of its
// SHA-256 (the recipe of counter.SeeyoufarmName), so that every name of another service has
// one counter here.
func keyOrHash(s string) string {
	if counter.ValidPart(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "h-" + hex.EncodeToString(sum[:12])
}

// check refuses what no format may bring, with the record's line: a negative total, bad days,
// days that add up to more than the total, and two records of one counter.
func check(p Parsed, now time.Time) (Parsed, error) {
	seen := make(map[counter.Name]int, len(p.Records))
	for i := range p.Records {
		r := &p.Records[i]
		if r.Total < 0 {
			return Parsed{}, lineErr(r.Line, "%s: a total of %d: want 0 or more", r.Name, r.Total)
		}
		slices.SortFunc(r.Days, func(a, b counter.DayCount) int { return a.Date.Compare(b.Date) })
		if err := counter.CheckDays(r.Days, now); err != nil {
			return Parsed{}, &LineError{Line: r.Line, Err: err}
		}
		// Days are not negative (CheckDays), so a sum past int64 is past any total too.
		var sum int64
		overflow := false
		for _, d := range r.Days {
			if sum > math.MaxInt64-d.Hits {
				overflow = true
				break
			}
			sum += d.Hits
		}
		if overflow && !r.Exact {
			return Parsed{}, lineErr(r.Line, "%s: its days add up to more than %d, more than its total %d", r.Name, int64(math.MaxInt64), r.Total)
		}
		if sum > r.Total && !r.Exact {
			return Parsed{}, lineErr(r.Line, "%s: its days add up to %d, more than its total %d", r.Name, sum, r.Total)
		}
		if first, dup := seen[r.Name]; dup {
			return Parsed{}, lineErr(r.Line, "counter %s is also on line %d: merge the two into one", r.Name, first)
		}
		seen[r.Name] = r.Line
	}
	return p, nil
}

// Formats are the names --from takes, in the order usage lists them.
var Formats = []string{"hitcounter", "hits.sh", "seeyoufarm", "moe-counter", "komarev", "goatcounter", "abacus"}

// Parse reads input in format (all but abacus, which Abacus reads from an instance).
//
// The formats that come in rows are read as a stream, never whole: the import runs in the web
// container, beside the server and within its memory limit, and what it keeps is the records
// (a GoatCounter export of millions of pageviews is a few counters). The JSON formats, a page
// or a list of names, are read whole.
func Parse(format string, input io.Reader, opt Options) (Parsed, error) {
	in := &bounded{r: input, left: int64(limit(opt.MaxInput))}
	var p Parsed
	var err error
	switch format {
	case "hitcounter":
		p, err = Hitcounter(in, opt)
	case "seeyoufarm":
		p, err = Seeyoufarm(in, opt)
	case "komarev":
		p, err = Komarev(in, opt)
	case "goatcounter":
		p, err = GoatCounter(in, opt)
	case "hits.sh", "moe-counter":
		var b []byte
		if b, err = io.ReadAll(in); err != nil {
			return Parsed{}, err // in.err, when it is the bound
		}
		if format == "hits.sh" {
			p, err = HitsSh(b, opt)
		} else {
			p, err = Moe(b, opt)
		}
	default:
		return Parsed{}, counter.Errorf(counter.EINVALID, nil, "unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
	}
	if in.err != nil {
		// Before whatever the parser made of the input's cut-off end.
		return Parsed{}, in.err
	}
	if err != nil {
		return Parsed{}, err
	}
	return check(p, opt.Now)
}

// errEmpty is an input with no records: most likely the wrong file, never worth an import.
var errEmpty = errors.New("no records in the input")

// jsonProblem says what is wrong with a JSON value without echoing the input back at length.
func jsonProblem(err error) string { return exportline.Problem(err) }

package importers

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// komarev's github-profile-views-counter keeps, with its file repository, two files per GitHub
// user in its storage directory: USER-views, one line per view with its time (RFC 3339 in UTC,
// with milliseconds: 2024-05-01T12:34:56.789+00:00), and USER-views-count, the total as a bare
// number. The user becomes a key in opt.Namespace (a user name of one or two characters, too
// short for a key, becomes "h-" and its hash).

// Komarev reads one of the two files of one user, opt.Name's counter; which one it is, it
// tells by its content (one number, or times). The views file gives the total (its lines), the
// days and the first view as the created time; the count file the total alone.
func Komarev(in io.Reader, opt Options) (Parsed, error) {
	if opt.Name == (counter.Name{}) {
		return Parsed{}, counter.Errorf(counter.EINVALID, nil, "komarev: name the counter (the file's name USER-views gives it, else --name NS/KEY)")
	}
	rec, err := komarevRecord(in, opt.Name)
	if err != nil {
		return Parsed{}, err
	}
	return Parsed{Records: []Record{rec}}, nil
}

// komarevRecord reads either file as a stream: a views file has a line per view ever.
func komarevRecord(in io.Reader, name counter.Name) (Record, error) {
	rec := Record{Name: name, Line: 1}
	perDay := map[time.Time]int64{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 256), 256)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && line == 1 {
			// A count file: the number, and nothing after it.
			for sc.Scan() {
				if strings.TrimSpace(sc.Text()) != "" {
					return Record{}, lineErr(line+1, "komarev: a count file holds one number")
				}
			}
			return Record{Name: name, Total: n, Line: 1}, sc.Err()
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return Record{}, lineErr(line, "komarev: %q is neither a view's time (RFC 3339) nor a count", clip(s))
		}
		if rec.Total == 0 || t.Before(rec.Created) {
			rec.Created = t.UTC()
		}
		rec.Total++
		perDay[t.UTC().Truncate(24*time.Hour)]++
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return Record{}, counter.Errorf(counter.EINVALID, err, "komarev: a line is longer than a view's time")
	} else if err != nil {
		return Record{}, err
	}
	if rec.Total == 0 {
		return Record{}, counter.Errorf(counter.EINVALID, errEmpty, "komarev: no views in the file")
	}
	for d, n := range perDay {
		rec.Days = append(rec.Days, counter.DayCount{Date: d, Hits: n})
	}
	return rec, nil
}

// KomarevUser is the counter of a komarev user in namespace.
func KomarevUser(namespace, user string) (counter.Name, error) {
	return counter.ParseName(namespace, keyOrHash(user))
}

// KomarevDir reads a whole storage directory: for each user, the total from USER-views-count
// (the counter komarev shows) and the days and created time from USER-views; a user with only
// one of the two files gets what that file gives. Line numbers in errors are of the file named.
func KomarevDir(fsys fs.FS, opt Options) (Parsed, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return Parsed{}, err
	}
	users := map[string][2]string{} // user → its views file, its count file
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		if u, ok := strings.CutSuffix(n, "-views-count"); ok {
			f := users[u]
			f[1] = n
			users[u] = f
		} else if u, ok := strings.CutSuffix(n, "-views"); ok {
			f := users[u]
			f[0] = n
			users[u] = f
		}
	}
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var p Parsed
	for _, u := range names {
		name, err := KomarevUser(opt.Namespace, u)
		if err != nil {
			return Parsed{}, err
		}
		var rec Record
		for i, file := range users[u] {
			if file == "" {
				continue
			}
			r, err := readFile(fsys, file, opt.MaxInput, name)
			if err != nil {
				return Parsed{}, counter.Errorf(counter.EINVALID, err, "%s: %s", path.Base(file), err.Error())
			}
			if i == 0 {
				rec = r
			} else {
				rec.Total = r.Total
			}
		}
		rec.Name, rec.Line = name, 1
		if u != rec.Name.Key {
			rec.Source = u
		}
		p.Records = append(p.Records, rec)
	}
	if len(p.Records) == 0 {
		return Parsed{}, counter.Errorf(counter.EINVALID, errEmpty, "komarev: no USER-views or USER-views-count files in the directory")
	}
	return check(p, opt.Now)
}

func readFile(fsys fs.FS, file string, max int, name counter.Name) (Record, error) {
	f, err := fsys.Open(file)
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	in := &bounded{r: f, left: int64(limit(max))}
	rec, err := komarevRecord(in, name)
	if in.err != nil {
		return Record{}, in.err
	}
	return rec, err
}

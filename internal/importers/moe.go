package importers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// Moe reads Moe-Counter's counts: its records {"name":"demo","num":1234} (the columns of its
// SQLite table, the fields of its MongoDB documents), as a JSON array or one record a line
// (mongoexport's output, whose "_id" and other fields are ignored, and whose numbers may come
// as {"$numberLong":"1234"}). Moe-Counter has no namespaces: every name becomes a key in
// opt.Namespace; a name that cannot be a key here (3 to 64 of A-Z a-z 0-9 _ . -) becomes
// "h-" and 24 hex digits of its SHA-256, and the dry run lists which.
func Moe(b []byte, opt Options) (Parsed, error) {
	if !counter.ValidPart(opt.Namespace) {
		return Parsed{}, counter.Errorf(counter.EINVALID, nil, "moe-counter: namespace %q is invalid", opt.Namespace)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	array := len(bytes.TrimSpace(b)) > 0 && bytes.TrimSpace(b)[0] == '['
	if array && !delim(dec, '[') {
		return Parsed{}, lineErr(1, "moe-counter: want a JSON array or one record a line")
	}
	var p Parsed
	for dec.More() {
		line := lineAt(b, dec.InputOffset())
		var rec struct {
			Name *string    `json:"name"`
			Num  *moeNumber `json:"num"`
		}
		if err := dec.Decode(&rec); err != nil {
			return Parsed{}, lineErr(line, "moe-counter: %s", jsonProblem(err))
		}
		if rec.Name == nil || *rec.Name == "" || rec.Num == nil {
			return Parsed{}, lineErr(line, "moe-counter: a record needs \"name\" and \"num\"")
		}
		key := keyOrHash(*rec.Name)
		r := Record{Name: counter.Name{Namespace: opt.Namespace, Key: key}, Total: int64(*rec.Num), Line: line}
		if key != *rec.Name {
			r.Source = *rec.Name
		}
		p.Records = append(p.Records, r)
	}
	if array && !delim(dec, ']') {
		return Parsed{}, lineErr(lineAt(b, dec.InputOffset()), "moe-counter: the array does not end")
	}
	if _, err := dec.Token(); err == nil {
		return Parsed{}, lineErr(lineAt(b, dec.InputOffset()), "moe-counter: more after the array")
	}
	if len(p.Records) == 0 {
		return Parsed{}, counter.Errorf(counter.EINVALID, errEmpty, "moe-counter: no records")
	}
	return p, nil
}

// moeNumber is a count as JSON or as MongoDB's extended JSON writes one.
type moeNumber int64

func (n *moeNumber) UnmarshalJSON(b []byte) error {
	var ext struct {
		Long string `json:"$numberLong"`
		Int  string `json:"$numberInt"`
	}
	s := string(b)
	if unquoted, err := strconv.Unquote(s); err == nil && len(b) > 0 && b[0] == '"' {
		s = unquoted // a number kept as text
	}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &ext); err != nil {
			return err
		}
		s = ext.Long + ext.Int
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("num %q is not a whole number", clip(s))
	}
	*n = moeNumber(v)
	return nil
}

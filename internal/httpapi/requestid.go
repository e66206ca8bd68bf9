package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

const maxRequestIDLen = 128

// validRequestID accepts ids that are safe to echo in a header and a log line: 1 to 128
// characters of letters, digits and -._:/+=, which covers UUIDs, hex and base64 ids. Anything
// else (control characters, CR/LF, blanks, non-ASCII) is replaced by a generated id.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}

// idGenerator makes request ids that are unique across replicas and cheap: a random prefix
// chosen at start, then a sequence number.
type idGenerator struct {
	prefix string
	seq    atomic.Uint64
}

func newIDGenerator() *idGenerator {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &idGenerator{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *idGenerator) next() string {
	var buf [32]byte
	b := append(buf[:0], g.prefix...)
	b = strconv.AppendUint(b, g.seq.Add(1), 36)
	return string(b)
}

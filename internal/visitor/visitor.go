// Package visitor names clients without remembering them: pseudonyms for what the store has to
// keep about a client (the day's unique visitors, the shared rate-limit counts), made with a key
// that lives only in the web processes and never reaches Redis, its append-only file, its
// snapshots or an export.
//
// The secret is VISITOR_KEY_FILE (256 random bits, made with the other secrets on the first
// run). Each UTC day has its own key, HMAC-SHA256(secret, "hitcounter visitor key" || day), and
// a pseudonym is HMAC-SHA256(day key, purpose || identity), cut to 128 bits. So a copy of Redis
// alone maps no pseudonym back to an address, not even by trying every IPv4 address; whoever
// has both a copy and the secret can test guesses, which is why the secret is kept with the
// other secrets and never in a backup of Redis.
package visitor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// MinSecretBytes is the shortest secret accepted: 128 bits.
const MinSecretBytes = 16

// Purposes keep the pseudonyms of one use from matching another's.
const (
	purposeVisitor = "visitor"
	purposeLimit   = "limit"
)

// Pseudonyms make the pseudonyms of one secret.
type Pseudonyms struct {
	secret []byte
	today  atomic.Pointer[dayKey]
}

// dayKey is one day's key with a pool of HMACs keyed with it: a pseudonym costs one HMAC of a
// few dozen bytes, and no allocation.
type dayKey struct {
	day  int64 // days since the Unix epoch
	key  []byte
	macs sync.Pool
}

// New returns the pseudonyms of secret, which every replica must share.
func New(secret []byte) (*Pseudonyms, error) {
	if len(secret) < MinSecretBytes {
		return nil, errors.New("the visitor key must hold at least 16 bytes")
	}
	return &Pseudonyms{secret: append([]byte(nil), secret...)}, nil
}

// NewRandom returns pseudonyms of a secret of this process alone: for one replica without a
// key file. Replicas that do not share a secret name one client differently, so the unique
// visitors are overcounted and the shared limits count per replica.
func NewRandom() *Pseudonyms {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails (it crashes the program instead)
	p, _ := New(secret)
	return p
}

var _ counter.Pseudonyms = (*Pseudonyms)(nil)

// Visitor implements counter.Pseudonyms: the client's network and user-agent bucket under the
// day's key.
func (p *Pseudonyms) Visitor(t time.Time, c counter.Client) string {
	var buf [40]byte
	return p.of(t, purposeVisitor, c.AppendIdentity(buf[:0], true))
}

var _ counter.OwnerTokens = (*Pseudonyms)(nil)

// OwnerToken implements counter.OwnerTokens: the counter's name under the secret itself, not a
// day's key, so that an owner's mark lasts; 128 bits, like a pseudonym. Knowing one counter's
// mark tells nothing of another's.
func (p *Pseudonyms) OwnerToken(name counter.Name) string {
	mac := hmac.New(sha256.New, p.secret)
	mac.Write([]byte("hitcounter owner mark\x00"))
	mac.Write([]byte(name.String()))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0])[:16])
}

// Limit names a limit's key in the shared rate-limit counts. The limit's name is part of it,
// so two limits never share a count.
func (p *Pseudonyms) Limit(t time.Time, limit string, key counter.LimitKey) string {
	buf := make([]byte, 0, 64+len(limit)+len(key.Counter.Namespace)+len(key.Counter.Key))
	buf = append(buf, limit...)
	buf = append(buf, 0)
	buf = counter.Client{Prefix: key.Client}.AppendIdentity(buf, false)
	buf = append(buf, key.Counter.Namespace...)
	buf = append(buf, '/')
	buf = append(buf, key.Counter.Key...)
	return p.of(t, purposeLimit, buf)
}

// DayKey is the key of t's UTC day. Exported for the tests that prove a copy of Redis holds no
// key: they look for it there.
func (p *Pseudonyms) DayKey(t time.Time) []byte {
	return append([]byte(nil), p.keyOf(dayOf(t)).key...)
}

func (p *Pseudonyms) of(t time.Time, purpose string, input []byte) string {
	k := p.keyOf(dayOf(t))
	mac, _ := k.macs.Get().(hash.Hash)
	if mac == nil {
		mac = hmac.New(sha256.New, k.key)
	}
	mac.Reset()
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write(input)
	var sum [sha256.Size]byte
	out := mac.Sum(sum[:0])
	k.macs.Put(mac)
	// 128 bits: unique enough for any number of visitors, and half the bytes in the store.
	return base64.RawURLEncoding.EncodeToString(out[:16])
}

// keyOf returns the key of day, derived once and kept while it is today.
func (p *Pseudonyms) keyOf(day int64) *dayKey {
	if k := p.today.Load(); k != nil && k.day == day {
		return k
	}
	mac := hmac.New(sha256.New, p.secret)
	mac.Write([]byte("hitcounter visitor key\x00"))
	mac.Write([]byte(time.Unix(day*86400, 0).UTC().Format(time.DateOnly)))
	k := &dayKey{day: day, key: mac.Sum(nil)}
	// A request dated yesterday (a batch straddling midnight) must not replace today's key.
	if cur := p.today.Load(); cur == nil || cur.day < day {
		p.today.Store(k)
	}
	return k
}

// dayOf is the UTC day of t, in days since the Unix epoch (floored, for times before 1970).
func dayOf(t time.Time) int64 {
	s := t.Unix()
	day := s / 86400
	if s < 0 && s%86400 != 0 {
		day--
	}
	return day
}

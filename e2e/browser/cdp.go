package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// conn speaks the Chrome DevTools Protocol over the two pipes of --remote-debugging-pipe: the
// browser reads commands from its fd 3 and writes answers and events to its fd 4, each message
// one JSON object followed by a NUL byte. Commands for a page carry that page's sessionId
// (Target.attachToTarget with flatten), so one pipe serves the browser and all its pages.
type conn struct {
	wmu sync.Mutex // one message at a time on w
	w   *os.File   // the browser's fd 3

	mu       sync.Mutex // guards what follows
	nextID   int64
	pending  map[int64]chan message
	sessions map[string]func(method string, params json.RawMessage)

	done chan struct{} // closed when the reader stops: the browser closed its end or died
	err  error         // why the reader stopped; read only after done is closed
}

type message struct {
	ID        int64           `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *protocolError  `json:"error,omitempty"`
}

type protocolError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data,omitempty"`
}

func (e *protocolError) Error() string {
	if e.Data != "" {
		return fmt.Sprintf("%s (%d): %s", e.Message, e.Code, e.Data)
	}
	return fmt.Sprintf("%s (%d)", e.Message, e.Code)
}

// newConn starts reading r (the browser's fd 4) and returns a conn that writes to w.
func newConn(w *os.File, r io.Reader) *conn {
	c := &conn{
		w:        w,
		pending:  map[int64]chan message{},
		sessions: map[string]func(string, json.RawMessage){},
		done:     make(chan struct{}),
	}
	go c.read(r)
	return c
}

func (c *conn) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	var err error
	for {
		var raw []byte
		raw, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var m message
		if err = json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			err = fmt.Errorf("reading the DevTools pipe: %w", err)
			break
		}
		c.mu.Lock()
		if m.ID != 0 {
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m // buffered, one answer per id
			}
			continue
		}
		handler := c.sessions[m.SessionID]
		c.mu.Unlock()
		if handler != nil && m.Method != "" {
			handler(m.Method, m.Params)
		}
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("the browser closed the DevTools pipe (it exited or crashed; see its stderr)")
	}
	c.err = err
	close(c.done)
}

// call sends method with params (nil for none) to the session (empty: the browser itself) and
// decodes the answer into result (nil to drop it). It waits at most until ctx ends.
func (c *conn) call(ctx context.Context, session, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	ch := make(chan message, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	out, err := json.Marshal(message{ID: id, SessionID: session, Method: method, Params: p})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if err := c.write(ctx, append(out, 0)); err != nil {
		return fmt.Errorf("%s: sending: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %w", method, m.Error)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("%s: decoding the answer: %w", method, err)
			}
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: %w", method, c.err)
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer: %w", method, context.Cause(ctx))
	}
}

// write sends one message; the pipe's write deadline bounds it by ctx, so a browser that stops
// reading cannot hang the test.
func (c *conn) write(ctx context.Context, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Time{}
	}
	if err := c.w.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.w.Write(b)
	return err
}

// onEvents routes the events of a session to handler, which runs on the reader goroutine and so
// must not block; nil removes the route.
func (c *conn) onEvents(session string, handler func(method string, params json.RawMessage)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if handler == nil {
		delete(c.sessions, session)
		return
	}
	c.sessions[session] = handler
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/counter"
)

// The operator's subcommands reach the server running beside them (in the same container, with
// `docker compose exec web ...` or `kubectl exec`) on its operator port, which is never
// published, with the operator token from OPERATOR_TOKEN_FILE: the way in to /admin/ now that
// the public port does not serve it.

// operatorRequestTimeout bounds a call that is not a transfer.
const operatorRequestTimeout = 30 * time.Second

// operatorTransferTimeout bounds an export or import, which may move every counter.
const operatorTransferTimeout = 30 * time.Minute

func operatorRequest(ctx context.Context, getenv func(string) string, method, path string, body io.Reader) (*http.Response, error) {
	port, token, err := config.Operator(getenv, nil)
	if err != nil {
		return nil, usageError{err}
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + path
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s on the operator port %d: %w (is the server running here?)", method, path, port, err)
	}
	return resp, nil
}

// answerError turns a failed answer into an error with the server's one-line message.
func answerError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var e struct{ Error string }
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
}

// exportCommand writes every counter to stdout as JSON lines (the format import reads). A
// transfer cut off by the server is an error, never a short file that looks whole.
func exportCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 0 {
		return usageError{errors.New("usage: hitcounter export > counters.jsonl")}
	}
	ctx, cancel := context.WithTimeout(ctx, operatorTransferTimeout)
	defer cancel()
	resp, err := operatorRequest(ctx, getenv, http.MethodGet, "/admin/export", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("export: %w", answerError(resp))
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return fmt.Errorf("export cut off: %w (the output is incomplete; run it again)", err)
	}
	return nil
}

// adminKeyCommand gives a counter a new admin key and prints it (the only time it is shown).
func adminKeyCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{errors.New("usage: hitcounter admin-key NAMESPACE/KEY")}
	}
	ns, key, _ := strings.Cut(args[0], "/")
	name, err := counter.ParseName(ns, key)
	if err != nil {
		return usageError{fmt.Errorf("admin-key: %s", counter.ErrorMessage(err))}
	}
	ctx, cancel := context.WithTimeout(ctx, operatorRequestTimeout)
	defer cancel()
	resp, err := operatorRequest(ctx, getenv, http.MethodPost, "/admin/key/"+name.String(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin-key: %w", answerError(resp))
	}
	var a struct {
		AdminKey string `json:"admin_key"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&a); err != nil {
		return fmt.Errorf("admin-key: reading the answer: %w", err)
	}
	if a.AdminKey == "" {
		return errors.New("admin-key: reading the answer: it has no admin_key")
	}
	fmt.Fprintln(stdout, a.AdminKey)
	return nil
}

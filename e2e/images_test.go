package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/testkit"
)

// The redis image is built by one service only; secrets and backup (and restore, in its own
// profile) name the same image with no build of their own. With a tag no image has on this
// engine, `up --build` still brings the stack up: Compose builds the image once and does not
// fail on the pull it tries for secrets and backup.
func TestRedisImageBuiltOnce(t *testing.T) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	tag := "e2e-fresh-" + hex.EncodeToString(b[:])
	images := []string{"hitcounter/web:" + tag, "hitcounter/redis:" + tag, "hitcounter/lb:" + tag}
	// Registered before the stack's own clean-up, so it runs after the stack is down.
	t.Cleanup(func() {
		if out, err := testkit.Run(time.Minute, nil, "docker", append([]string{"rmi"}, images...)...); err != nil {
			t.Logf("removing this test's images: %v\n%s", err, out)
		}
	})
	s := newStack(t)
	s.Env = append(s.Env, "HITCOUNTER_TAG="+tag)
	redisImage := "hitcounter/redis:" + tag

	var cfg struct {
		Services map[string]struct {
			Image string
			Build *struct{ Context string }
		}
	}
	if err := json.Unmarshal([]byte(s.MustCompose(30*time.Second, "config", "--format", "json")), &cfg); err != nil {
		t.Fatalf("docker compose config: %v", err)
	}
	var builders, users []string
	for name, svc := range cfg.Services {
		if svc.Image != redisImage {
			continue
		}
		users = append(users, name)
		if svc.Build != nil {
			builders = append(builders, name)
		}
	}
	slices.Sort(users)
	if !slices.Equal(builders, []string{"redis"}) || !slices.Equal(users, []string{"backup", "redis", "secrets"}) {
		t.Fatalf("services with image %s: %v, of which %v build it; want backup, redis and secrets, built by redis alone", redisImage, users, builders)
	}

	for _, image := range images {
		out, err := testkit.Run(30*time.Second, nil, "docker", "image", "inspect", image)
		if err == nil || !strings.Contains(strings.ToLower(out), "no such image") {
			t.Fatalf("image %s should not exist before the test: %v %s", image, err, out)
		}
	}
	s.up()
	s.mustVisit()

	// secrets ran, from the image redis built.
	var built []struct{ ID string }
	s.inspect(&built, "--type", "image", redisImage)
	ids := strings.Fields(s.MustCompose(30*time.Second, "ps", "-a", "-q", "secrets"))
	if len(ids) != 1 {
		t.Fatalf("%d secrets containers, want 1", len(ids))
	}
	var secrets []struct {
		Image string
		State struct {
			Status   string
			ExitCode int
		}
	}
	s.inspect(&secrets, ids[0])
	if len(built) != 1 || len(secrets) != 1 || secrets[0].Image != built[0].ID ||
		secrets[0].State.Status != "exited" || secrets[0].State.ExitCode != 0 {
		t.Errorf("secrets container %+v; want exited 0 from image %+v", secrets, built)
	}
}

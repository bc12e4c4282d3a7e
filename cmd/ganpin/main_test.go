package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// The test binary doubles as the ganpin binary, so tests can kill it.
func TestMain(m *testing.M) {
	if os.Getenv("GANPIN_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type proc struct {
	cmd   *exec.Cmd
	base  string
	token string
	out   *bytes.Buffer
}

var (
	listenRE = regexp.MustCompile(`listening on (http://\S+)`)
	tokenRE  = regexp.MustCompile(`API token for xunwu: (gp_\S+)`)
)

// start runs `ganpin serve --demo` as a child process and waits until it listens.
func start(t testing.TB, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--demo", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "GANPIN_TEST_AS_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	p := &proc{cmd: cmd, out: &bytes.Buffer{}}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if m := tokenRE.FindStringSubmatch(line); m != nil {
			p.token = m[1]
		}
		if m := listenRE.FindStringSubmatch(line); m != nil {
			p.base = m[1]
			go io.Copy(io.Discard, stdout)
			return p
		}
	}
	t.Fatalf("server did not start:\n%s", p.out)
	return nil
}

func (p *proc) get(t testing.TB, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if v != nil {
		json.NewDecoder(res.Body).Decode(v)
	}
	return res.StatusCode
}

// TestKillLosesNothingAcknowledged SIGKILLs the server while clients capture events
// and checks that every event it acknowledged is there after a restart.
func TestKillLosesNothingAcknowledged(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { killTest(t, "--data", t.TempDir()) })
	t.Run("postgres", func(t *testing.T) {
		killTest(t, "--database-url", testdb.PostgresSchemaURL(t), "--data", t.TempDir())
	})
}

func killTest(t *testing.T, args ...string) {
	p := start(t, args...)
	var sites struct {
		Items []struct {
			ID   int64  `json:"id"`
			Kind string `json:"kind"`
		} `json:"items"`
	}
	p.get(t, "/api/v1/sites?limit=1000", &sites)
	var orchards []int64
	for _, s := range sites.Items {
		if s.Kind == "orchard" {
			orchards = append(orchards, s.ID)
		}
	}
	_, fruit := demoOrchard(t, p)
	if len(orchards) == 0 || fruit == 0 {
		t.Fatalf("demo has no orchard or product: %+v", sites)
	}

	var mu sync.Mutex
	var acked []int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"type":"harvest","time":%q,"site":%d,"harvest":{"lot":{"code":"K%d-%d","product":%d,"quantity":10,"unit":"kg"}}}`,
					time.Now().Add(-time.Minute).Format(time.RFC3339), orchards[w%len(orchards)], w, i, fruit)
				req, _ := http.NewRequestWithContext(ctx, "POST", p.base+"/api/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+p.token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				var ev struct{ ID int64 }
				json.NewDecoder(res.Body).Decode(&ev)
				res.Body.Close()
				if res.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, ev.ID)
					mu.Unlock()
				} else if res.StatusCode != 201 {
					t.Errorf("capture: %d", res.StatusCode)
					return
				}
			}
		}()
	}
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()

	q := start(t, args...)
	for _, id := range acked {
		if s := q.get(t, fmt.Sprintf("/api/v1/events/%d", id), nil); s != 200 {
			t.Fatalf("acknowledged event %d lost after SIGKILL (status %d)", id, s)
		}
	}
	t.Logf("%d acknowledged events survived SIGKILL", len(acked))
}

func TestCommandLine(t *testing.T) {
	var out, errb bytes.Buffer
	ctx := context.Background()
	dir := t.TempDir()
	env := func(k string) string { return map[string]string{"GANPIN_DATA": dir}[k] }
	if err := run(ctx, []string{"migrate"}, env, nil, &out, &errb); err != nil || !strings.Contains(out.String(), "migrated schema from version 0 to ") {
		t.Fatalf("migrate: %v %s %s", err, out.String(), errb.String())
	}
	if err := run(ctx, []string{"frobnicate"}, env, nil, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(ctx, []string{"serve", "--addr", "nonsense"}, env, nil, &out, &errb); err == nil || !strings.Contains(err.Error(), "address") {
		t.Fatalf("bad address: %v", err)
	}
	if err := run(ctx, []string{"serve", "--database-url", "mysql://x"}, env, nil, &out, &errb); err == nil {
		t.Fatal("mysql url accepted")
	}
	// The first admin of a new installation, then a token for it.
	uscc17 := "91360702MA35GP0X1"
	check, _ := trace.USCCCheck(uscc17)
	out.Reset()
	err := run(ctx, []string{"admin", "--party", "赣品溯源运营有限公司", "--uscc", uscc17 + string(check), "--username", "ops"}, env,
		strings.NewReader("a long admin password\n"), &out, &errb)
	if err != nil || !strings.Contains(out.String(), `admin "ops"`) {
		t.Fatalf("admin: %v %s %s", err, out.String(), errb.String())
	}
	if err := run(ctx, []string{"admin", "--party", "x", "--uscc", "bad"}, env, strings.NewReader("a long admin password\n"), &out, &errb); err == nil {
		t.Fatal("admin with a bad credit code accepted")
	}
}

// TestGracefulShutdown stops the server with SIGTERM and expects a clean exit.
func TestGracefulShutdown(t *testing.T) {
	p := start(t, "--data", t.TempDir())
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.out)
	}
	if !strings.Contains(p.out.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", p.out)
	}
}

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickStart returns the sh blocks of the README's "Quick start" section,
// in order.
func quickStart(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)\n## Quick start\n(.*?)\n## `).FindSubmatch(readme)
	if section == nil {
		t.Fatal("README.md has no Quick start section")
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(section[1], -1) {
		blocks = append(blocks, string(m[1]))
	}
	if len(blocks) < 3 {
		t.Fatalf("the Quick start has %d sh blocks, want the start, the calls and the stop", len(blocks))
	}
	return blocks
}

// TestReadmeQuickStart runs the README's quick start as one bash script
// (set -e), as the README says it runs, with the command this test built
// and on a free address instead of 127.0.0.1:8080: it must call the API
// and stop the server it started. A run cut short by a failure must stop
// the server too, through the trap.
func TestReadmeQuickStart(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README's quick start needs %s", tool)
			}
			t.Skipf("the README's quick start needs %s", tool)
		}
	}
	bin := buildCommand(t)
	blocks := quickStart(t)

	// script is the quick start's blocks as a script in a directory of its
	// own, with this test's binary and address.
	script := func(t *testing.T, blocks []string) (dir, addr string) {
		t.Helper()
		dir, addr = t.TempDir(), freeAddr(t)
		text := strings.Join(blocks, "\n")
		for _, r := range []struct{ old, new string }{
			{"go build -o cardcore ./cmd/cardcore", "cp " + bin + " cardcore"},
			{"./cardcore serve &", "./cardcore serve --addr " + addr + " &"},
			{"127.0.0.1:8080", addr},
		} {
			if !strings.Contains(text, r.old) {
				t.Fatalf("the quick start no longer holds %q; change this test with it:\n%s", r.old, text)
			}
			text = strings.ReplaceAll(text, r.old, r.new)
		}
		if err := os.WriteFile(filepath.Join(dir, "quickstart.sh"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir, addr
	}
	// runScript runs it with bash -e and returns its exit code and output,
	// the server's log included. The script runs in a process group of its
	// own, killed at the end of the test, so that a server it left running
	// does not outlive the test.
	runScript := func(t *testing.T, dir string) (code int, out string) {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, "output"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command("bash", "-e", "quickstart.sh")
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, f
		cmd.Env = append(os.Environ(), secretEnv+"=", panKeyEnv+"=")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		err = cmd.Wait()
		b, _ := os.ReadFile(f.Name())
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(b)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(b)
	}
	// stopped waits until nothing listens on addr any more: the server
	// drains its requests (none here) and exits.
	stopped := func(t *testing.T, addr, out string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("the server still listens on %s after the script ended; output:\n%s", addr, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("as written", func(t *testing.T) {
		dir, addr := script(t, blocks)
		code, out := runScript(t, dir)
		if code != 0 {
			t.Fatalf("the quick start exited %d; output:\n%s", code, out)
		}
		for _, want := range []string{`{"status":"ok"}`, `"status":"BLOCKED"`, `"previous_status":"BLOCKED"`,
			`"track_number":2`, `"event_type":"create-1"`, `"next_after":5`, `"password_tries":3`, "msg=stopped"} {
			if !strings.Contains(out, want) {
				t.Errorf("the quick start's output lacks %s:\n%s", want, out)
			}
		}
		stopped(t, addr, out)
	})
	t.Run("cut short by a failure", func(t *testing.T) {
		dir, addr := script(t, append(blocks[:2:2], "exit 3\n"))
		code, out := runScript(t, dir)
		if code != 3 || !strings.Contains(out, `{"status":"ok"}`) {
			t.Fatalf("the cut quick start exited %d, want 3 after the server answered; output:\n%s", code, out)
		}
		stopped(t, addr, out)
	})
}

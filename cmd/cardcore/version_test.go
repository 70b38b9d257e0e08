package main

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionReport(t *testing.T) {
	for _, tt := range []struct {
		name string
		info *debug.BuildInfo
		want []string
	}{
		{"no build information", nil, []string{
			"cardcore (devel)\n", "module   github.com/cardcore/cardcore\n", "revision unknown (built without VCS information",
		}},
		{"a test or go run binary", &debug.BuildInfo{Main: debug.Module{Path: "github.com/cardcore/cardcore", Version: "(devel)"}}, []string{
			"cardcore (devel)\n", "revision unknown",
		}},
		{"a release from a clean tree", &debug.BuildInfo{GoVersion: "go1.26.8",
			Main: debug.Module{Path: "github.com/cardcore/cardcore", Version: "v1.2.0"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
				{Key: "vcs.time", Value: "2026-12-04T21:13:42Z"}, {Key: "vcs.modified", Value: "false"}}}, []string{
			"cardcore v1.2.0\n", "revision 0123456789abcdef0123456789abcdef01234567\n",
			"time     2026-12-04T21:13:42Z (the revision's commit time)\n", "go       go1.26.8 ",
		}},
		{"a tree with changes", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204211342-0123456789ab+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"}}}, []string{
			"cardcore v0.0.0-20261204211342-0123456789ab+dirty\n",
			"revision 0123456789abcdef0123456789abcdef01234567 (modified: built with uncommitted changes)\n",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := versionReport(tt.info)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("report lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestVersionCommand: "cardcore version" (and --version) answer in
// process, where a test binary has no VCS information.
func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := runCmd(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "cardcore ") || !strings.Contains(out, "\nrevision ") || errOut != "" {
			t.Errorf("%v: exit %d, stdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}
	if code, out, _ := runCmd(t, "help"); code != exitOK || !strings.Contains(out, "version  print the module version and the VCS revision") {
		t.Errorf("help does not list version:\n%s", out)
	}
}

// TestVersionBinary builds the command from this git checkout with
// -buildvcs=true (GOFLAGS may turn it off) and checks that it prints the
// checkout's revision.
func TestVersionBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	head, err := exec.CommandContext(t.Context(), "git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout, or no git: %v", err)
	}
	bin := t.TempDir() + "/cardcore"
	build := exec.CommandContext(t.Context(), "go", "build", "-buildvcs=true", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(t.Context(), bin, "version").Output()
	if err != nil {
		t.Fatalf("cardcore version: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	for _, w := range []string{"\nrevision " + rev, "\ntime     ", "\nmodule   github.com/cardcore/cardcore\n"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("cardcore version lacks %q:\n%s", w, out)
		}
	}
	if strings.HasPrefix(string(out), "cardcore (devel)") {
		t.Errorf("a build of a git checkout has no version:\n%s", out)
	}
}

// TestKeysHelp: "cardcore keys" with a help flag prints its commands and
// their flags; alone or with a verb it lacks, it is a usage error.
func TestKeysHelp(t *testing.T) {
	for _, tt := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{[]string{"keys", "--help"}, exitOK, "keys generate [flags]", ""},
		{[]string{"keys", "-h"}, exitOK, "-keyid string", ""},
		{[]string{"keys", "help"}, exitOK, "usage: cardcore keys <command> [flags]", ""},
		{[]string{"keys"}, exitUsage, "", "keys generate [flags]"},
		{[]string{"keys", "rotate"}, exitUsage, "", `unknown command "keys rotate"`},
		{[]string{"keys", "generate", "--help"}, exitOK, "", "-out string"},
	} {
		code, out, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.errs) {
			t.Errorf("%v: exit %d (want %d); stdout (want %q):\n%s\nstderr (want %q):\n%s", tt.args, code, tt.code, tt.stdout, out, tt.errs, errOut)
		}
	}
}

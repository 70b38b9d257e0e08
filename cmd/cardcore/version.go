package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
)

// setupVersion is "cardcore version": the module version and the VCS
// revision the binary was built from (SPEC 11), read from the build
// information the Go toolchain embeds.
func setupVersion(*flag.FlagSet) runFunc {
	return func(_ context.Context, out io.Writer, _ *slog.Logger) error {
		info, ok := debug.ReadBuildInfo()
		if !ok {
			info = nil
		}
		_, err := io.WriteString(out, versionReport(info))
		return err
	}
}

// versionReport renders info (nil when the binary carries none), e.g.
//
//	cardcore v1.2.0
//	module   github.com/cardcore/cardcore
//	revision 0123456789abcdef0123456789abcdef01234567 (modified: built with uncommitted changes)
//	time     2026-12-04T21:13:42Z (the revision's commit time)
//	go       go1.26.8 linux/amd64
//
// "go build" in a git checkout records the revision (-buildvcs, on by
// default unless GOFLAGS turns it off); without it, or from "go run" or a
// test binary, the revision is "unknown" and the version "(devel)", said
// as such.
func versionReport(info *debug.BuildInfo) string {
	version, module := "(devel)", "github.com/cardcore/cardcore"
	settings := map[string]string{}
	goVersion := runtime.Version()
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.Main.Path != "" {
			module = info.Main.Path
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cardcore %s\n", version)
	fmt.Fprintf(&b, "module   %s\n", module)
	switch rev := settings["vcs.revision"]; {
	case rev == "":
		b.WriteString("revision unknown (built without VCS information: \"go build -buildvcs=true\" in a git checkout records it)\n")
	case settings["vcs.modified"] == "true":
		fmt.Fprintf(&b, "revision %s (modified: built with uncommitted changes)\n", rev)
	default:
		fmt.Fprintf(&b, "revision %s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(&b, "time     %s (the revision's commit time)\n", t)
	}
	fmt.Fprintf(&b, "go       %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// --cpuprofile profiles each measured run and nothing else: one file per
// run when there are several, named after the run; the path itself when
// there is one. A profile's duration is its run's measured time, not the
// fixtures' or the warm-up's.
func TestBenchCPUProfile(t *testing.T) {
	dir := t.TempDir()
	const warmup, duration = time.Second, 300 * time.Millisecond
	bench := func(path string, args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"bench", "--db", filepath.Join(dir, "bench.db"), "--warmup", warmup.String(),
			"--duration", duration.String(), "--n", "300", "--bind-n", "300", "--cpuprofile", path}, args...)
		if code := run(t.Context(), args, &out, &errOut); code != exitOK {
			t.Fatalf("bench exited %d; stderr:\n%s", code, errOut.String())
		}
	}

	bench(filepath.Join(dir, "one.out"), "--workload", "transition", "--workers", "1")
	if d := profileDuration(t, filepath.Join(dir, "one.out")); d < duration*9/10 || d >= warmup {
		t.Errorf("the profile of one transition run lasts %v: want its %v measured, without the %v warm-up", d, duration, warmup)
	}

	bench(filepath.Join(dir, "cpu.out"), "--workload", "transition,bulk", "--workers", "1,2")
	for _, name := range []string{"cpu-transition-1w.out", "cpu-transition-2w.out"} {
		if d := profileDuration(t, filepath.Join(dir, name)); d < duration*9/10 || d >= warmup {
			t.Errorf("%s lasts %v: want its %v measured, without the %v warm-up", name, d, duration, warmup)
		}
	}
	// The bulk is measured from its start to its end, its fixtures left out.
	if d := profileDuration(t, filepath.Join(dir, "cpu-bulk.out")); d <= 0 || d >= warmup {
		t.Errorf("cpu-bulk.out lasts %v", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "cpu.out")); !os.IsNotExist(err) {
		t.Errorf("cpu.out was written beside the runs' profiles (%v)", err)
	}

	// A bulk-ceiling with two row counts is two measurements, one profile
	// each, and none under the path given. (That the settling and the
	// counts are in neither is not timed here: it is the code's order.)
	bench(filepath.Join(dir, "ceil.out"), "--workload", "bulk-ceiling", "--ceiling-rows", "4,8")
	for _, name := range []string{"ceil-bulk-ceiling-4rows.out", "ceil-bulk-ceiling-8rows.out"} {
		if d := profileDuration(t, filepath.Join(dir, name)); d <= 0 || d >= warmup {
			t.Errorf("%s lasts %v", name, d)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ceil.out")); !os.IsNotExist(err) {
		t.Errorf("ceil.out was written beside the measurements' profiles (%v)", err)
	}
}

// profileDuration is the duration_nanos of the pprof profile in path, a
// gzipped profile.proto message (field 10).
func profileDuration(t *testing.T, path string) time.Duration {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var d time.Duration = -1
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: not a profile: %v", path, protowire.ParseError(n))
		}
		b = b[n:]
		if num == 10 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				t.Fatalf("%s: %v", path, protowire.ParseError(m))
			}
			d = time.Duration(v)
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			t.Fatalf("%s: not a profile: %v", path, protowire.ParseError(m))
		}
		b = b[m:]
	}
	if d < 0 {
		t.Fatalf("%s has no duration", path)
	}
	return d
}

// A run that ends before its warm-up does (its pre-made cards ran out)
// measured nothing: it writes no profile and says so (the bench then fails
// on the empty measurement, as it does without a profile).
func TestBenchCPUProfileOfAnEmptyRun(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	path := filepath.Join(dir, "cpu.out")
	args := []string{"bench", "--db", filepath.Join(dir, "bench.db"), "--workload", "bind", "--workers", "1",
		"--warmup", "10s", "--duration", "100ms", "--bind-n", "20", "--cpuprofile", path}
	if code := run(t.Context(), args, &out, &errOut); code == exitOK {
		t.Fatalf("a bench that measured nothing succeeded: %s", out.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a profile was written for a run that measured nothing (%v)", err)
	}
	if !bytes.Contains(errOut.Bytes(), []byte("no CPU profile written")) {
		t.Errorf("the bench did not say that it wrote no profile; stderr:\n%s", errOut.String())
	}
}

package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// cpuProfile is the CPU profile of one measured run: it starts when the
// run's measured time starts (after the fixtures and the warm-up) and
// stops when it ends, so a profile holds the measured work and nothing
// else. A run that plans more than one measured run writes one file per
// run (profilePath).
type cpuProfile struct {
	path  string
	log   *slog.Logger
	mu    sync.Mutex
	f     *os.File
	timer *time.Timer
	ended bool
	err   error
}

// profile is the profile of the measured run named name (a workload, its
// worker count, a phase), not started; nil when no profile was asked for.
func (b *bench) profile(name string) *cpuProfile {
	if b.cfg.cpuProfile == "" {
		return nil
	}
	return &cpuProfile{path: profilePath(b.cfg.cpuProfile, name, b.cfg.measuredRuns()), log: b.log}
}

// profilePath is the file of the profile of the measured run name: path
// itself when the bench plans one measured run, else path with "-" and
// name before its extension (cpu.out: cpu-transition-16w.out).
func profilePath(path, name string, runs int) string {
	if runs <= 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + name + ext
}

// measuredRuns is how many measured runs cfg plans, each one profile.
func (cfg benchConfig) measuredRuns() int {
	runs := 0
	for _, w := range cfg.workloads {
		switch w {
		case "bulk", "bulk+transition":
			runs++
		case "bulk-ceiling": // one per --ceiling-rows
			runs += max(len(cfg.ceilingRows), 1)
		case "relay": // a backlog and a lag phase per worker count
			runs += 2 * cmp.Or(len(cfg.workers), 1)
		default: // the default worker counts are 1 and 16
			runs += cmp.Or(len(cfg.workers), 2)
		}
	}
	return runs
}

// start starts the profile now. Only one CPU profile runs at a time in a
// process, and the bench's runs follow each other.
func (p *cpuProfile) start() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended || p.f != nil {
		return
	}
	f, err := os.Create(p.path)
	if err != nil {
		p.err = err
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		p.err = errors.Join(err, f.Close())
		return
	}
	p.f = f
}

// startAfter starts the profile after d, the warm-up, unless it has
// stopped by then.
func (p *cpuProfile) startAfter(d time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = time.AfterFunc(d, p.start)
}

// stop ends the profile and writes its file; it reports a profile that
// could not be written, and is safe to call when the profile never
// started.
func (p *cpuProfile) stop() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return nil
	}
	p.ended = true
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.f != nil {
		pprof.StopCPUProfile()
		p.err = errors.Join(p.err, p.f.Close())
	} else if p.err == nil {
		// The run ended before its warm-up did (its pre-made cards ran
		// out): it measured nothing, and there is nothing to profile.
		p.log.Warn("no CPU profile written: the run ended before its warm-up did", "file", p.path)
	}
	if p.err != nil {
		return fmt.Errorf("--cpuprofile %s: %w", p.path, p.err)
	}
	return nil
}

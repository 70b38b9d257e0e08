// Command cardcore runs the cardcore library from the shell: the reference
// HTTP API, the tokens that call it, a guided demo of the card lifecycle,
// the database migrations, and the sweep that applies the system
// transitions (expiration, validity).
//
// Usage:
//
//	cardcore <command> [flags]
//
// The commands are:
//
//	serve    serve the reference HTTP API
//	token    mint a bearer token for the API
//	demo     walk cards through the lifecycle and relay their events
//	migrate  create or update the cardcore tables
//	sweep    expire due cards and make elapsed ones INOPERATIVE, once
//	relay    deliver the event feed to NATS JetStream and webhooks until stopped
//	purge    delete the events and idempotency records past their retention, once
//	bench    measure the use cases under load, beside the raw-SQL baseline
//	keys generate  write a client key pair for signed sandbox requests
//	version  print the module version and the VCS revision of this build
//
// Every command but token, keys generate and version takes --db: a SQLite file
// (default cardcore.db) or a postgres:// URL. serve and token read the
// token secret from CARDCORE_JWT_SECRET (or --jwt-secret); serve reads the
// PAN key of the sandbox routes from CARDCORE_PAN_KEY (or --pan-key). Run
// "cardcore <command> --help" for a command's flags. Logs go to stderr;
// they never carry a PAN, a card token, a bearer token, a secret, a private
// key or a password.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/uptrace/bun"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line is wrong
)

// command is a subcommand. setup registers its flags on fs and returns the
// function that runs it once they are parsed. A name of two words, such as
// "keys generate", is a verb of a group of commands.
type command struct {
	name    string
	summary string
	setup   func(fs *flag.FlagSet) runFunc
}

// runFunc runs a parsed command, writing its report to out.
type runFunc func(ctx context.Context, out io.Writer, log *slog.Logger) error

// dbCommand is a command over the database --db names (registered on fs):
// it opens the database, creating a SQLite file when create is true, runs
// run on it with the database's description, and closes it.
func dbCommand(fs *flag.FlagSet, create bool,
	run func(ctx context.Context, out io.Writer, log *slog.Logger, db *bun.DB, desc string) error) runFunc {
	target := dbFlag(fs, defaultDB)
	return func(ctx context.Context, out io.Writer, log *slog.Logger) error {
		db, desc, err := target.open(ctx, create)
		if err != nil {
			return err
		}
		defer db.Close()
		return run(ctx, out, log, db, desc)
	}
}

var commands = []command{
	{"serve", "serve the reference HTTP API", setupServe},
	{"token", "mint a bearer token for the API", setupToken},
	{"demo", "walk cards through the lifecycle and relay their events", setupDemo},
	{"migrate", "create or update the cardcore tables", setupMigrate},
	{"sweep", "expire due cards and make elapsed ones INOPERATIVE, once", setupSweep},
	{"relay", "deliver the event feed to NATS JetStream and webhooks until stopped", setupRelay},
	{"subscriptions", "list the feed's subscriptions with their lag, or drop one", setupSubscriptions},
	{"purge", "delete the events and idempotency records past their retention, once", setupPurge},
	{"keys generate", "write a client key pair for signed sandbox requests", setupKeysGenerate},
	{"bench", "measure the use cases under load, beside the raw-SQL baseline", setupBench},
	{"version", "print the module version and the VCS revision of this build", setupVersion},
}

// usageError is a command line that parsed but asks for something the
// command cannot do; it exits with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks the command to stop cleanly (serve drains its
	// requests); a second one kills the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args (without the program name), runs the command they name
// and returns the process exit code. Reports go to stdout, usage and logs
// to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch {
	case isHelp(args[0]):
		usage(stdout)
		return exitOK
	case args[0] == "-version" || args[0] == "--version":
		args = []string{"version"}
	}
	if code, done := groupHelp(args, stdout, stderr); done {
		return code
	}
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) < len(words) || !slices.Equal(args[:len(words)], words) {
			continue
		}
		fs := flag.NewFlagSet("cardcore "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		runCmd := c.setup(fs)
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "usage: cardcore %s [flags]\n\n%s.\n\nflags:\n", c.name, c.summary)
			fs.PrintDefaults()
		}
		if err := fs.Parse(args[len(words):]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "cardcore %s: unexpected argument %q\n", c.name, fs.Arg(0))
			fs.Usage()
			return exitUsage
		}
		if err := runCmd(ctx, stdout, log); err != nil {
			var ue *usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(stderr, "cardcore %s: %s\nRun \"cardcore %s --help\" for the command's flags.\n", c.name, ue, c.name)
				return exitUsage
			}
			log.Error("command failed", "command", c.name, "err", err)
			return exitError
		}
		return exitOK
	}
	fmt.Fprintf(stderr, "cardcore: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cardcore <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "cardcore <command> --help" for the command's flags.`)
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// groupHelp answers a command line that names a group of commands, such
// as "keys", without one of its verbs: "keys --help" (or -h, help) prints
// the group's verbs and their flags to stdout; "keys" alone, or with a verb
// it does not have, is a usage error that prints them to stderr. done is
// false when args is not about a group.
func groupHelp(args []string, stdout, stderr io.Writer) (code int, done bool) {
	var verbs []command
	for _, c := range commands {
		if words := strings.Fields(c.name); len(words) > 1 && words[0] == args[0] {
			verbs = append(verbs, c)
		}
	}
	switch {
	case len(verbs) == 0:
		return 0, false
	case len(args) == 1:
		fmt.Fprintf(stderr, "cardcore %s: which command?\n\n", args[0])
		groupUsage(stderr, args[0], verbs)
		return exitUsage, true
	case isHelp(args[1]):
		groupUsage(stdout, args[0], verbs)
		return exitOK, true
	}
	for _, c := range verbs {
		if strings.Fields(c.name)[1] == args[1] {
			return 0, false
		}
	}
	fmt.Fprintf(stderr, "cardcore: unknown command %q\n\n", args[0]+" "+args[1])
	groupUsage(stderr, args[0], verbs)
	return exitUsage, true
}

// groupUsage prints the verbs of group with their flags.
func groupUsage(w io.Writer, group string, verbs []command) {
	fmt.Fprintf(w, "usage: cardcore %s <command> [flags]\n\ncommands:\n", group)
	for _, c := range verbs {
		fmt.Fprintf(w, "\n  %s [flags]\n    %s.\n", c.name, c.summary)
		fs := flag.NewFlagSet("cardcore "+c.name, flag.ContinueOnError)
		c.setup(fs)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fmt.Fprintf(w, "\nRun \"cardcore %s <command> --help\" for one command's flags.\n", group)
}

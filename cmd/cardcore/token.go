package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cardcore/cardcore/adapters/httpapi"
)

// secretEnv names the variable that holds the token secret, the way to pass
// it that keeps it out of the process list and the shell history.
const secretEnv = "CARDCORE_JWT_SECRET"

// secretFlag registers --jwt-secret on fs. Its default is empty rather than
// the variable's value, so that --help never prints the secret.
func secretFlag(fs *flag.FlagSet) *string {
	return fs.String("jwt-secret", "", "the HS256 secret of the bearer tokens, at least 32 bytes (default: $"+secretEnv+", which keeps it out of the process list)")
}

// jwtSecret returns the secret given by --jwt-secret, else by
// CARDCORE_JWT_SECRET. Its errors never quote the secret.
func jwtSecret(flagValue string) ([]byte, error) {
	s := flagOrEnv(flagValue, secretEnv)
	switch {
	case s == "":
		return nil, usageErrorf("the token secret is required: set %s or pass --jwt-secret", secretEnv)
	case len(s) < 32:
		return nil, usageErrorf("the token secret is %d bytes, want at least 32 (e.g. openssl rand -hex 32)", len(s))
	}
	return []byte(s), nil
}

// flagOrEnv returns a secret's flag value, else the value of the variable
// env, which keeps the secret out of the process list.
func flagOrEnv(flagValue, env string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(env)
}

// setupToken is "cardcore token": mint a bearer token for the API that
// "cardcore serve" runs with the same secret.
func setupToken(fs *flag.FlagSet) runFunc {
	org := fs.String("org", "", "the org the token acts for (required)")
	account := fs.String("account-id", "", "mint an account token, which may touch only this account")
	server := fs.Bool("server", false, "mint a server token, which may call every route of the org")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	secretValue := secretFlag(fs)
	return func(_ context.Context, out io.Writer, _ *slog.Logger) error {
		switch {
		case *org == "":
			return usageErrorf("--org is required")
		case (*account == "") == !*server:
			return usageErrorf("give exactly one of --account-id ID and --server")
		case *ttl <= 0:
			return usageErrorf("--ttl must be positive")
		}
		secret, err := jwtSecret(*secretValue)
		if err != nil {
			return err
		}
		tok, err := httpapi.MintToken(secret, httpapi.Claims{OrgID: *org, AccountID: *account, Server: *server}, *ttl, time.Now())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, tok)
		return err
	}
}

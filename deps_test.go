package cardcore_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// heavy are the modules of the HTTP API (its OpenAPI checks, JWT and
// signature libraries), and those of the command's telemetry (the
// OpenTelemetry SDK, the Prometheus and OTLP exporters and gRPC beneath
// them), that a service embedding only the library must not compile: the
// library takes the OpenTelemetry API's providers, the host picks an SDK.
var heavy = []string{
	"github.com/getkin/kin-openapi",
	"github.com/yaronf/httpsign",
	"github.com/lestrrat-go/jwx",
	"github.com/golang-jwt/jwt",
	"go.opentelemetry.io/otel/sdk",
	"go.opentelemetry.io/otel/exporters",
	"github.com/prometheus/client_golang",
	"google.golang.org/grpc",
}

// modulesOf returns the modules of the packages pkgs import, directly or
// not, as go list -deps reports them ("go test" puts its own go first in
// PATH).
func modulesOf(t *testing.T, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}"}, pkgs...)
	out, err := exec.CommandContext(t.Context(), "go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var mods []string
	for _, m := range strings.Fields(string(out)) {
		if !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	return mods
}

// heavyIn returns the modules of mods that are, or are under, a heavy one.
func heavyIn(mods []string) []string {
	var found []string
	for _, m := range mods {
		for _, h := range heavy {
			if m == h || strings.HasPrefix(m, h+"/") {
				found = append(found, m)
			}
		}
	}
	return found
}

// A service that imports only cardcore and its store compiles none of the
// HTTP API's heavy modules.
func TestLeanBuild(t *testing.T) {
	found := heavyIn(modulesOf(t, "github.com/cardcore/cardcore", "github.com/cardcore/cardcore/adapters/bunstore"))
	for _, m := range found {
		t.Errorf("importing cardcore and adapters/bunstore compiles %s", m)
	}
	// The check sees them where they are: the HTTP API compiles the JWT
	// library.
	if api := heavyIn(modulesOf(t, "github.com/cardcore/cardcore/adapters/httpapi")); !slices.Contains(api, "github.com/golang-jwt/jwt/v5") {
		t.Errorf("go list finds %v of the heavy modules under adapters/httpapi; want github.com/golang-jwt/jwt/v5 among them", api)
	}
}

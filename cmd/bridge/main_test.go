package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/auth"
	"github.com/callbridge/callbridge/web"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

const minimal = `
auth:
  token_secret: "` + testSecret + `"
sip:
  trunk: "sip:127.0.0.1:5080"
seats:
  - id: "agent-7"
    caller_ids: ["+14155550100", "+14155550101"]
    country: "US"
`

func TestTokenCommand(t *testing.T) {
	cfg := writeConfig(t, minimal)
	var out bytes.Buffer
	require.NoError(t, run([]string{"token", "--config", cfg, "--seat", "agent-7", "--ttl", "10m", "--caller-ids", "+14155550101"}, &out, &out))
	claims, err := auth.Verify([]byte(testSecret), strings.TrimSpace(out.String()))
	require.NoError(t, err)
	assert.Equal(t, "agent-7", claims.Seat)
	assert.Equal(t, []string{"+14155550101"}, claims.CallerIDs)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), claims.ExpiresAt, 5*time.Second)
}

func TestTokenCommandErrors(t *testing.T) {
	cfg := writeConfig(t, minimal)
	var out bytes.Buffer
	assert.ErrorContains(t, run([]string{"token", "--config", cfg}, &out, &out), "--seat is required")
	assert.ErrorContains(t, run([]string{"token", "--config", cfg, "--seat", "nobody"}, &out, &out), `no seat "nobody"`)
	t.Setenv("BRIDGE_AUTH_TOKEN_SECRET", "")
	t.Setenv("BRIDGE_CONFIG", "")
	t.Chdir(t.TempDir())
	assert.ErrorContains(t, run([]string{"token", "--seat", "x"}, &out, &out), "BRIDGE_AUTH_TOKEN_SECRET")
}

func TestBadConfigIsRefusedWithReasons(t *testing.T) {
	cfg := writeConfig(t, minimal+`
  - id: "agent-8"
    caller_ids: ["+14155550100"]
`)
	var out bytes.Buffer
	err := run([]string{"--config", cfg}, &out, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent-8")
	assert.Contains(t, err.Error(), "+14155550100")

	cfg = writeConfig(t, minimal+"    colour: blue\n")
	err = run([]string{"--config", cfg}, &out, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "colour")
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"version"}, &out, &out))
	assert.Contains(t, out.String(), "callbridge")
	assert.Contains(t, out.String(), "widget "+web.WidgetVersion(), "the widget's version (its npm package's)")
	assert.NotEmpty(t, web.WidgetVersion())
}

// `bridge token --seat agent-7 --ttl 1h`, as docs/WIDGET.md prints it, reads
// the bridge.yaml of the working directory the README's commands use.
func TestTokenCommandFindsBridgeYAML(t *testing.T) {
	t.Setenv("BRIDGE_AUTH_TOKEN_SECRET", "")
	t.Setenv("BRIDGE_CONFIG", "")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bridge.yaml"), []byte(minimal), 0o600))
	t.Chdir(dir)
	var out bytes.Buffer
	require.NoError(t, run([]string{"token", "--seat", "agent-7", "--ttl", "1h"}, &out, &out))
	claims, err := auth.Verify([]byte(testSecret), strings.TrimSpace(out.String()))
	require.NoError(t, err)
	assert.Equal(t, "agent-7", claims.Seat)
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		var out bytes.Buffer
		require.NoError(t, run(args, &out, &out), "%v", args)
		for _, cmd := range []string{"bridge token --seat", "bridge version", "--config FILE"} {
			assert.Contains(t, out.String(), cmd, "%v", args)
		}
	}
	var out bytes.Buffer
	assert.ErrorContains(t, run([]string{"tokn"}, &out, &out), `unknown command "tokn"`)
}

package webhook

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callbridge/callbridge/record"
)

// The examples in docs/WEBHOOKS.md are run, so they cannot rot.

func docBlocks(t *testing.T, lang string) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/WEBHOOKS.md")
	require.NoError(t, err)
	re := regexp.MustCompile("(?s)```" + regexp.QuoteMeta(lang) + "\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		out = append(out, m[1])
	}
	require.NotEmpty(t, out, "no %s block in docs/WEBHOOKS.md", lang)
	return out
}

func TestDocTemplates(t *testing.T) {
	blocks := docBlocks(t, "gotemplate")
	require.Len(t, blocks, 2)
	for i, tmpl := range blocks {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			r, err := NewRenderer(tmpl, "")
			require.NoError(t, err)
			body, err := r.Render(SampleEvents()[1])
			require.NoError(t, err)
			assert.Contains(t, string(body), "003xx000004TmiQ")
		})
	}
}

func TestDocEventExample(t *testing.T) {
	var found bool
	for _, b := range docBlocks(t, "json") {
		if strings.Contains(b, `"type": "call.completed"`) && strings.Contains(b, `"duration_s"`) {
			var ev record.Event
			require.NoError(t, jsonUnmarshalStrict([]byte(b), &ev))
			assert.Equal(t, record.TypeCompleted, ev.Type)
			assert.Equal(t, 60, ev.Call.DurationS)
			found = true
		}
	}
	assert.True(t, found)
}

// docCase is a request the snippets must accept or refuse.
type docCase struct {
	name string
	id   string
	ts   time.Time
	body string
	sig  func(id string, ts time.Time, body string) string
	ok   bool
}

func docCases(t *testing.T) []docCase {
	sign := func(id string, ts time.Time, body string) string {
		s, err := Sign(testSecret, id, ts, []byte(body))
		require.NoError(t, err)
		return s
	}
	now := time.Now()
	body := `{"type":"call.completed","id":"evt_1"}`
	return []docCase{
		{"valid", "evt_1", now, body, sign, true},
		{"rotation", "evt_1", now, body, func(id string, ts time.Time, b string) string { return "v1,AAAA " + sign(id, ts, b) }, true},
		{"tampered", "evt_1", now, body, func(id string, ts time.Time, b string) string { return sign(id, ts, b+" ") }, false},
		{"stale", "evt_1", now.Add(-10 * time.Minute), body, sign, false},
		{"garbage", "evt_1", now, body, func(string, time.Time, string) string { return "v1,!!!" }, false},
	}
}

// runSnippet writes the snippet plus a harness, runs it once per case with
// the request in arguments (body in a file) and expects "OK" or "ERR".
func runSnippet(t *testing.T, tool string, files map[string]string, args func(dir, secret, id, ts, sig, bodyFile string) []string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed", tool)
	}
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	for _, c := range docCases(t) {
		t.Run(c.name, func(t *testing.T) {
			bodyFile := filepath.Join(dir, "body-"+c.name)
			require.NoError(t, os.WriteFile(bodyFile, []byte(c.body), 0o600))
			cmd := exec.Command(tool, args(dir, testSecret, c.id, strconv.FormatInt(c.ts.Unix(), 10), c.sig(c.id, c.ts, c.body), bodyFile)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=off")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			want := "ERR"
			if c.ok {
				want = "OK"
			}
			assert.Equal(t, want, strings.TrimSpace(string(out)))
		})
	}
}

func TestDocSnippetGo(t *testing.T) {
	src := strings.Replace(docBlocks(t, "go")[0], "package hook", "package main", 1)
	harness := `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	h := http.Header{}
	h.Set("webhook-id", os.Args[2])
	h.Set("webhook-timestamp", os.Args[3])
	h.Set("webhook-signature", os.Args[4])
	body, _ := os.ReadFile(os.Args[5])
	if err := Verify(os.Args[1], h, body); err != nil {
		fmt.Println("ERR")
		return
	}
	fmt.Println("OK")
}
`
	runSnippet(t, "go", map[string]string{"verify.go": src, "main.go": harness},
		func(dir, secret, id, ts, sig, bodyFile string) []string {
			return []string{"run", "verify.go", "main.go", secret, id, ts, sig, bodyFile}
		})
}

func TestDocSnippetNode(t *testing.T) {
	harness := `const { verify } = require("./verify.js");
const fs = require("node:fs");
const [secret, id, ts, sig, bodyFile] = process.argv.slice(2);
try {
  verify(secret, {"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig}, fs.readFileSync(bodyFile));
  console.log("OK");
} catch (e) {
  console.log("ERR");
}
`
	runSnippet(t, "node", map[string]string{"verify.js": docBlocks(t, "js")[0], "main.js": harness},
		func(dir, secret, id, ts, sig, bodyFile string) []string {
			return []string{"main.js", secret, id, ts, sig, bodyFile}
		})
}

func TestDocSnippetPython(t *testing.T) {
	harness := `import sys
from verify import verify
secret, msg_id, ts, sig, body_file = sys.argv[1:]
try:
    verify(secret, {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig}, open(body_file, "rb").read())
    print("OK")
except Exception:
    print("ERR")
`
	runSnippet(t, "python3", map[string]string{"verify.py": docBlocks(t, "python")[0], "main.py": harness},
		func(dir, secret, id, ts, sig, bodyFile string) []string {
			return []string{"main.py", secret, id, ts, sig, bodyFile}
		})
}

func jsonUnmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	return dec.Decode(v)
}

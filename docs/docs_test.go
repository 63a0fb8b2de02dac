package docs

import (
	"bufio"
	"debug/elf"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const repoRoot = ".."

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	require.NoError(t, err)
	return string(b)
}

// fencedBlocks returns the bodies of the markdown's ``` blocks of a
// language ("*": of any).
func fencedBlocks(md, lang string) []string {
	var out []string
	var cur *strings.Builder
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(strings.TrimSpace(line), "```") && (lang == "*" || strings.TrimSpace(line) == "```"+lang):
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

func blockWith(t *testing.T, md, lang, needle string) string {
	t.Helper()
	for _, b := range fencedBlocks(md, lang) {
		if strings.Contains(b, needle) {
			return b
		}
	}
	t.Fatalf("no ```%s block containing %q", lang, needle)
	return ""
}

// copyRepo copies the repository's files (tracked and new, as git lists
// them) into a fresh folder: a clone of the working tree.
func copyRepo(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if strings.Contains(name, "node_modules/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, name))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		require.NoError(t, err)
		p := filepath.Join(dst, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	return dst
}

func sh(t *testing.T, dir, line string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", line, out)
	return string(out)
}

// The README's build commands, run as written in a copy of the repository,
// leave a static bin/bridge that runs: its help, its version, and its
// token command with the README's configuration file. The command that
// serves is not run (it would reach the README's example carrier).
func TestREADMEBuildCommandsWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bridge")
	}
	readme := read(t, "README.md")
	dir := copyRepo(t)
	yaml := blockWith(t, readme, "yaml", "# bridge.yaml")
	// The reader puts a secret where the README says (openssl rand -base64 48).
	secret := regexp.MustCompile(`(token_secret: )"[^"]*"`)
	require.True(t, secret.MatchString(yaml))
	yaml = secret.ReplaceAllString(yaml, `$1"`+base64.StdEncoding.EncodeToString(make([]byte, 48))+`"`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bridge.yaml"), []byte(yaml), 0o600))

	block := blockWith(t, readme, "sh", "go build")
	var ran []string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" || strings.HasSuffix(line, "--config bridge.yaml") {
			continue // the serving command
		}
		sh(t, dir, line)
		ran = append(ran, line)
	}
	require.NotEmpty(t, ran)
	tokenRan := false
	for _, l := range ran {
		tokenRan = tokenRan || strings.Contains(l, " token ")
	}
	assert.True(t, tokenRan, "the README's token command ran: %q", ran)

	bin := filepath.Join(dir, "bin", "bridge")
	fi, err := os.Stat(bin)
	require.NoError(t, err, "the README's build writes bin/bridge")
	require.True(t, fi.Mode().IsRegular())
	help := sh(t, dir, "./bin/bridge --help")
	assert.Contains(t, help, "bridge token")
	assert.Contains(t, sh(t, dir, "./bin/bridge version"), "callbridge")

	// Static: no program interpreter (ld.so) and no shared libraries.
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "bin/bridge asks for a dynamic loader")
	}
	libs, _ := f.ImportedLibraries()
	assert.Empty(t, libs)
}

// No page tells the reader to build into the repository's root, where the
// bridge/ package folder is: `go build ./cmd/bridge` and
// `go build -o bridge ./cmd/bridge` both fail there.
func TestDocsNeverBuildIntoTheBridgeFolder(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	pages = append(pages, filepath.Join(repoRoot, "README.md"), filepath.Join(repoRoot, "Dockerfile"))
	bad := regexp.MustCompile(`go build (?:-o \.?/?bridge )?(?:[^|]*\s)?\./cmd/bridge`)
	good := regexp.MustCompile(`-o (\S*/)`)
	for _, p := range pages {
		text := read(t, strings.TrimPrefix(p, repoRoot+"/"))
		code := text // the Dockerfile is all commands
		if strings.HasSuffix(p, ".md") {
			code = strings.Join(fencedBlocks(text, "*"), "\n")
		}
		for _, line := range strings.Split(code, "\n") {
			if !strings.Contains(line, "go build") || !strings.Contains(line, "./cmd/bridge") {
				continue
			}
			if good.MatchString(line) || !bad.MatchString(line) {
				continue
			}
			t.Errorf("%s builds into the bridge/ folder: %s", filepath.Base(p), strings.TrimSpace(line))
		}
	}
}

// The Dockerfile and the operator's guide give the same stop timeout.
func TestStopTimeoutAgrees(t *testing.T) {
	re := regexp.MustCompile(`docker stop -t (\d+)`)
	seen := map[string][]string{}
	for _, name := range []string{"Dockerfile", "docs/OPERATIONS.md"} {
		for _, m := range re.FindAllStringSubmatch(read(t, name), -1) {
			seen[m[1]] = append(seen[m[1]], name)
		}
	}
	require.NotEmpty(t, seen)
	assert.Len(t, seen, 1, "stop timeouts: %v", seen)
}

// .ci/run's console filter shows progress during the long e2e stage: each
// subtest as it starts and each widget browser test as it ends, not only
// the top-level tests.
func TestCIConsoleShowsProgress(t *testing.T) {
	script := read(t, ".ci/run")
	m := regexp.MustCompile(`(?s)\| awk '(.*?)'\n`).FindStringSubmatch(script)
	require.NotNil(t, m, "the awk filter in .ci/run")
	in := strings.Join([]string{
		"=== RUN   TestChromiumWidgetBehindNAT",
		"=== RUN   TestChromiumWidgetBehindNAT/symmetric_NAT",
		"    harness.go:12: some detail",
		"    browser_test.go:40: widget suite: ok 3 - tone number: click the tel: link",
		"    --- PASS: TestChromiumWidgetBehindNAT/symmetric_NAT (9.1s)",
		"--- PASS: TestChromiumWidgetBehindNAT (18.2s)",
		"ok  	github.com/callbridge/callbridge/e2e	400.0s",
	}, "\n") + "\n"
	cmd := exec.Command("awk", m[1])
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err)
	got := string(out)
	assert.Contains(t, got, "=== RUN   TestChromiumWidgetBehindNAT/symmetric_NAT")
	assert.Contains(t, got, "widget suite: ok 3")
	assert.Contains(t, got, "--- PASS: TestChromiumWidgetBehindNAT/symmetric_NAT")
	assert.NotContains(t, got, "some detail")
}

// The README warns that the first run compiles the dependencies for
// minutes, so a newcomer does not take a silent cold build for a hang.
func TestREADMEWarnsOfTheFirstBuild(t *testing.T) {
	readme := read(t, "README.md")
	i := strings.Index(readme, "go run ./cmd/bridge")
	j := strings.Index(readme, "callbridge demo is running.")
	require.True(t, i >= 0 && j > i)
	between := readme[i:j]
	assert.Regexp(t, `(?i)first run.*compiles the dependencies`, strings.ReplaceAll(between, "\n", " "))
	assert.Contains(t, between, "minutes")
}

// Package contrib holds no Go code, only the files that install and build
// maildird (the systemd unit, the OpenWrt init script) and the tests that
// keep them, build.sh and .ci/run working. The files are checked with the
// tools that will read them for real where this machine has those tools:
// sh, dash, busybox, bash, shellcheck, systemd-analyze and the Go toolchain.
package contrib

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the checkout's top directory: go test runs in contrib/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("locating the repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

// result is what a finished command left behind.
type result struct {
	stdout, stderr string
	code           int // the exit code; -1 when it did not start or was killed
}

// runOptions says how to run a command; the zero value runs it in the
// current directory with the test's environment and a one-minute limit.
type runOptions struct {
	dir     string
	env     []string // added to the test's environment
	stdin   string
	timeout time.Duration
}

// runCmd runs name with args and returns its output and exit code. A
// command that cannot start fails the test; a non-zero exit does not, the
// caller decides what it means.
func runCmd(t *testing.T, opts runOptions, name string, args ...string) result {
	t.Helper()
	timeout := opts.timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = opts.dir
	cmd.Env = append(os.Environ(), opts.env...)
	cmd.Stdin = strings.NewReader(opts.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running %s %q: %v", name, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish within %v\nstdout:\n%s\nstderr:\n%s", name, args, timeout, res.stdout, res.stderr)
	}
	return res
}

// lookTool returns the path of tool, or skips the test saying it is missing.
func lookTool(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s is not installed: %v", tool, err)
	}
	return path
}

// syntaxChecker is one way to ask a shell whether a script parses.
type syntaxChecker struct {
	name string   // the sub-test name
	tool string   // looked up in PATH
	args []string // the script's path is appended
}

// posixCheckers parse a POSIX sh script the way its target systems will.
func posixCheckers() []syntaxChecker {
	return []syntaxChecker{
		{name: "sh", tool: "sh", args: []string{"-n"}},
		{name: "dash", tool: "dash", args: []string{"-n"}},
		// OpenWrt's /bin/sh is busybox ash.
		{name: "busybox", tool: "busybox", args: []string{"sh", "-n"}},
	}
}

// shellcheckChecker lints a script in the dialect its shebang or its
// shellcheck directive names; style findings count too.
func shellcheckChecker() syntaxChecker {
	return syntaxChecker{name: "shellcheck", tool: "shellcheck", args: []string{"--severity=style"}}
}

// bashCheckers parse and lint a bash script.
func bashCheckers() []syntaxChecker {
	return []syntaxChecker{{name: "bash", tool: "bash", args: []string{"-n"}}, shellcheckChecker()}
}

// check runs the checker on script and fails the test with the tool's
// complaint when it rejects it.
func (c syntaxChecker) check(t *testing.T, script string) {
	t.Helper()
	tool := lookTool(t, c.tool)
	res := runCmd(t, runOptions{}, tool, append(append([]string{}, c.args...), script)...)
	if res.code != 0 {
		t.Errorf("%s rejects %s (exit %d):\n%s%s", c.name, script, res.code, res.stdout, res.stderr)
	}
}

// scripts is every shell script in the repository that these tests own,
// with the checkers that apply to it.
func scripts(t *testing.T) map[string][]syntaxChecker {
	t.Helper()
	root := repoRoot(t)
	return map[string][]syntaxChecker{
		filepath.Join(root, "contrib", "openwrt", "maildird.init"): append(posixCheckers(), shellcheckChecker()),
		filepath.Join(root, "build.sh"):                            bashCheckers(),
		filepath.Join(root, ".ci", "run"):                          bashCheckers(),
	}
}

func TestScriptsParse(t *testing.T) {
	for script, checkers := range scripts(t) {
		for _, c := range checkers {
			t.Run(filepath.Base(script)+"/"+c.name, func(t *testing.T) {
				c.check(t, script)
			})
		}
	}
}

// TestCheckersRejectBrokenScripts makes sure every checker used above is
// able to fail here, so a pass of TestScriptsParse means something.
func TestCheckersRejectBrokenScripts(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken.sh")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\nif true; then\n\techo never closed\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(posixCheckers(), bashCheckers()...) {
		t.Run(c.name, func(t *testing.T) {
			tool := lookTool(t, c.tool)
			res := runCmd(t, runOptions{}, tool, append(append([]string{}, c.args...), broken)...)
			if res.code == 0 {
				t.Errorf("%s accepts a script with an unclosed if: the syntax check proves nothing", c.name)
			}
		})
	}
}

func TestScriptsAreExecutable(t *testing.T) {
	for script := range scripts(t) {
		info, err := os.Stat(script)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if info.Mode().Perm()&0o111 != 0o111 {
			t.Errorf("%s has mode %v; it must be executable by everyone (0755)", script, info.Mode().Perm())
		}
	}
}

func TestBashScriptsAreStrict(t *testing.T) {
	root := repoRoot(t)
	for _, rel := range []string{"build.sh", filepath.Join(".ci", "run")} {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		text := string(b)
		if !strings.HasPrefix(text, "#!/usr/bin/env bash\n") {
			t.Errorf("%s does not start with #!/usr/bin/env bash", rel)
		}
		if !strings.Contains(text, "\nset -euo pipefail\n") {
			t.Errorf("%s has no `set -euo pipefail` line", rel)
		}
	}
}

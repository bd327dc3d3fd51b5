package contrib

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// procdStubs stands in for OpenWrt's procd.sh: each call prints one line,
// its arguments separated by "|", so quoting mistakes in the init script
// (a word split or glued together) show up in the test.
const procdStubs = `
procd_open_instance() { echo "open_instance|$*"; }
procd_close_instance() { echo "close_instance"; }
procd_set_param() {
	line="set_param"
	for a in "$@"; do line="$line|$a"; done
	echo "$line"
}
`

// startServiceCalls sources the init script, as /etc/rc.common does, runs
// its start_service with stubbed procd functions and returns the calls
// made, one per line, followed by the rc.common variables it set.
func startServiceCalls(t *testing.T, shell []string, script string) []string {
	t.Helper()
	driver := procdStubs + `. "$1"
start_service
echo "USE_PROCD=$USE_PROCD START=$START"
`
	args := append(append([]string{}, shell[1:]...), "-c", driver, "sh", script)
	res := runCmd(t, runOptions{dir: t.TempDir()}, lookTool(t, shell[0]), args...)
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("start_service under %s: exit %d\nstdout:\n%s\nstderr:\n%s", shell, res.code, res.stdout, res.stderr)
	}
	return strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
}

func TestInitScriptStartService(t *testing.T) {
	script := filepath.Join(repoRoot(t), "contrib", "openwrt", "maildird.init")
	for _, shell := range [][]string{{"sh"}, {"dash"}, {"busybox", "sh"}} {
		t.Run(shell[0], func(t *testing.T) {
			calls := startServiceCalls(t, shell, script)
			if err := checkProcdCalls(calls); err != nil {
				t.Errorf("%v\ncalls:\n%s", err, strings.Join(calls, "\n"))
			}
		})
	}
}

// checkProcdCalls says what is wrong with the calls start_service made.
func checkProcdCalls(calls []string) error {
	want := []string{
		"set_param|command|/usr/bin/maildird|-config|/etc/maildird/config.ini",
		"set_param|stdout|1",
		"set_param|stderr|1",
	}
	if len(calls) == 0 {
		return &procdError{[]string{"start_service made no calls"}}
	}
	var problems []string
	if len(calls) < 3 || !strings.HasPrefix(calls[0], "open_instance|") {
		problems = append(problems, "the first call is not procd_open_instance")
	}
	if len(calls) < 2 || calls[len(calls)-2] != "close_instance" {
		problems = append(problems, "the last call is not procd_close_instance")
	}
	for _, w := range want {
		if !slices.Contains(calls, w) {
			problems = append(problems, "missing "+w)
		}
	}
	if !slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "set_param|respawn") }) {
		problems = append(problems, "no respawn")
	}
	if calls[len(calls)-1] != "USE_PROCD=1 START=95" {
		problems = append(problems, "want USE_PROCD=1 START=95, got "+calls[len(calls)-1])
	}
	if len(problems) > 0 {
		return &procdError{problems}
	}
	return nil
}

type procdError struct{ problems []string }

func (e *procdError) Error() string { return "init script: " + strings.Join(e.problems, "; ") }

// TestCheckProcdCallsRejects shows the checker above fails on a script that
// gets the command line wrong, so its pass on the real script means something.
func TestCheckProcdCallsRejects(t *testing.T) {
	good := []string{
		"open_instance|",
		"set_param|command|/usr/bin/maildird|-config|/etc/maildird/config.ini",
		"set_param|respawn|3600|5|5",
		"set_param|stdout|1",
		"set_param|stderr|1",
		"close_instance",
		"USE_PROCD=1 START=95",
	}
	if err := checkProcdCalls(good); err != nil {
		t.Fatalf("a correct call list is rejected: %v", err)
	}
	for name, bad := range map[string][]string{
		"unquoted glued arguments": replaceCall(good, 1, "set_param|command|/usr/bin/maildird -config /etc/maildird/config.ini"),
		"no respawn":               slices.Delete(slices.Clone(good), 2, 3),
		"no stderr":                slices.Delete(slices.Clone(good), 4, 5),
		"instance left open":       slices.Delete(slices.Clone(good), 5, 6),
		"late start":               replaceCall(good, 6, "USE_PROCD=1 START=99"),
	} {
		if err := checkProcdCalls(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func replaceCall(calls []string, i int, with string) []string {
	c := slices.Clone(calls)
	c[i] = with
	return c
}

func TestInitScriptShebang(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "contrib", "openwrt", "maildird.init"))
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(b), "\n"); first != "#!/bin/sh /etc/rc.common" {
		t.Errorf("first line is %q, want #!/bin/sh /etc/rc.common", first)
	}
}

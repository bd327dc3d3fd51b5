package contrib

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitSettings maps "Section.Key" to the values a unit file gives it, in
// order. It is enough for the unit we ship: no line continuations, no
// quoting.
type unitSettings map[string][]string

func parseUnit(text string) (unitSettings, error) {
	settings := unitSettings{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		case section == "":
			return nil, fmt.Errorf("line %d: %q comes before any [section]", n, line)
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not key=value", n, line)
			}
			k := section + "." + strings.TrimSpace(key)
			settings[k] = append(settings[k], strings.TrimSpace(value))
		}
	}
	return settings, sc.Err()
}

func readUnit(t *testing.T) (string, unitSettings) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "contrib", "maildird.service"))
	if err != nil {
		t.Fatal(err)
	}
	settings, err := parseUnit(string(b))
	if err != nil {
		t.Fatalf("maildird.service: %v", err)
	}
	return string(b), settings
}

// TestUnitSettings pins the settings the service depends on: who it runs
// as, what it runs, the one capability it has, and the sandbox.
func TestUnitSettings(t *testing.T) {
	text, settings := readUnit(t)
	want := map[string]string{
		"Service.User":                  "maildird",
		"Service.Group":                 "maildird",
		"Service.DynamicUser":           "no",
		"Service.ExecStart":             "/usr/local/bin/maildird -config /etc/maildird/config.ini",
		"Service.AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
		"Service.CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
		"Service.NoNewPrivileges":       "yes",
		"Service.StateDirectory":        "maildird",
		"Service.ProtectSystem":         "strict",
		"Service.ReadWritePaths":        "/var/lib/maildird",
		"Service.ProtectHome":           "yes",
		"Service.PrivateTmp":            "yes",
		"Service.Restart":               "on-failure",
		"Service.KillSignal":            "SIGTERM",
		"Service.TimeoutStopSec":        "30",
		"Install.WantedBy":              "multi-user.target",
	}
	for key, value := range want {
		got := settings[key]
		if !slices.Equal(got, []string{value}) {
			t.Errorf("%s = %q, want exactly %q", key, got, value)
		}
	}
	// The capability lines, as an admin reading the file sees them.
	for _, line := range []string{"AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).MatchString(text) {
			t.Errorf("the unit has no line %q", line)
		}
	}
	if !strings.Contains(text, "useradd --system") {
		t.Error("the unit's comment does not say how to create the maildird user (useradd --system)")
	}
}

// unitWithExec is the unit with ExecStart pointed at binary, written as
// maildird.service in a temporary directory; systemd-analyze verify
// insists that the program exists.
func unitWithExec(t *testing.T, text, binary string) string {
	t.Helper()
	const exec = "ExecStart=/usr/local/bin/maildird "
	if !strings.Contains(text, "\n"+exec) {
		t.Fatalf("the unit has no line starting with %q", exec)
	}
	text = strings.Replace(text, "\n"+exec, "\nExecStart="+binary+" ", 1)
	path := filepath.Join(t.TempDir(), "maildird.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifyUnit runs systemd-analyze verify on path. systemd reports unknown
// keys and bad values as warnings with exit code 0, so any output counts
// as a failure.
func verifyUnit(t *testing.T, analyze, path string) error {
	t.Helper()
	res := runCmd(t, runOptions{dir: filepath.Dir(path)}, analyze, "verify", path)
	if res.code != 0 || strings.TrimSpace(res.stdout+res.stderr) != "" {
		return fmt.Errorf("systemd-analyze verify %s: exit %d:\n%s%s", filepath.Base(path), res.code, res.stdout, res.stderr)
	}
	return nil
}

// maildirdBinary builds the real maildird into a temporary directory. With
// -short, the running test binary stands in: verify only needs an
// executable file there.
func maildirdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		return exe
	}
	out := filepath.Join(t.TempDir(), "maildird")
	// The flags build.sh uses, so both builds share the compiled packages.
	res := runCmd(t, runOptions{dir: repoRoot(t), env: []string{"CGO_ENABLED=0"}, timeout: buildTimeout},
		lookTool(t, "go"), "build", "-trimpath", "-o", out, ".")
	if res.code != 0 {
		t.Fatalf("go build of maildird failed (exit %d):\n%s%s", res.code, res.stdout, res.stderr)
	}
	return out
}

func TestUnitVerifies(t *testing.T) {
	analyze := lookTool(t, "systemd-analyze")
	text, _ := readUnit(t)
	binary := maildirdBinary(t)

	// Find out whether verify works here at all, and whether it notices
	// a misspelt key; in some containers it does neither.
	broken := unitWithExec(t, strings.Replace(text, "\nProtectHome=", "\nProtectHomeDir=", 1), binary)
	if err := verifyUnit(t, analyze, broken); err == nil {
		t.Skip("systemd-analyze verify accepts a unit with an unknown key in this environment; it cannot check ours")
	}
	if err := verifyUnit(t, analyze, unitWithExec(t, text, binary)); err != nil {
		t.Error(err)
	}
}

// TestUnitSecurity keeps the sandbox from eroding: systemd's own exposure
// score (0 best, 10 worst) must stay at 2.0 or below.
func TestUnitSecurity(t *testing.T) {
	analyze := lookTool(t, "systemd-analyze")
	text, _ := readUnit(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := unitWithExec(t, text, exe)
	res := runCmd(t, runOptions{dir: filepath.Dir(path)}, analyze, "security", "--offline=yes", "--threshold=20", path)
	out := res.stdout + res.stderr
	if strings.Contains(out, "unrecognized option") || strings.Contains(out, "Unknown command verb") {
		t.Skipf("this systemd-analyze cannot score a unit file offline:\n%s", out)
	}
	if res.code != 0 {
		t.Errorf("systemd-analyze security: exit %d, the exposure is above 2.0 or the unit is wrong:\n%s", res.code, out)
	}
	if !strings.Contains(out, "Overall exposure level for maildird.service") {
		t.Errorf("systemd-analyze security printed no exposure level:\n%s", out)
	}
}

func TestParseUnitRejectsGarbage(t *testing.T) {
	for name, text := range map[string]string{
		"key before section": "User=maildird\n[Service]\n",
		"not key=value":      "[Service]\nUser maildird\n",
	} {
		if _, err := parseUnit(text); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	s, err := parseUnit("[Service]\n# c\nA=1\nA=2\n[Install]\nWantedBy = x\n")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s["Service.A"], []string{"1", "2"}) || !slices.Equal(s["Install.WantedBy"], []string{"x"}) {
		t.Errorf("parsed %v", s)
	}
}

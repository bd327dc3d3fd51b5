package contrib

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMain is a stand-in for maildird with the same version variable, so
// build.sh's target table and version stamping can be tested without
// building the whole server seven times.
const fakeMain = `package main

import "fmt"

var version = "dev"

func main() { fmt.Println("maildird", version) }
`

// fakeCheckout makes a git checkout holding a copy of build.sh and
// fakeMain, committed and tagged v9.8.7, and returns its directory.
func fakeCheckout(t *testing.T) string {
	t.Helper()
	git := lookTool(t, "git")
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"build.sh": string(script), "main.go": fakeMain, "go.mod": "module example.invalid/fake\n\ngo 1.26\n"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "."},
		{"-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "fake"},
		{"tag", "v9.8.7"},
	} {
		res := runCmd(t, runOptions{dir: dir, env: fakeEnv()}, git, args...)
		if res.code != 0 {
			t.Fatalf("git %q: exit %d: %s%s", args, res.code, res.stdout, res.stderr)
		}
	}
	return dir
}

// fakeEnv keeps the user's and the system's git configuration out of
// the fake checkout; GOWORK=off keeps a go.work above the temp dir out.
func fakeEnv() []string {
	return []string{"GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1", "GOWORK=off", "GOFLAGS=-mod=mod"}
}

// TestBuildShAllTargets runs build.sh with no arguments, from another
// directory and with no DIST_DIR, and checks every file it promises.
func TestBuildShAllTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds seven binaries; skipped with -short")
	}
	checkout := fakeCheckout(t)
	env := append(fakeEnv(), "DIST_DIR=")
	res := runCmd(t, runOptions{dir: t.TempDir(), env: env, timeout: buildTimeout}, filepath.Join(checkout, "build.sh"))
	if res.code != 0 {
		t.Fatalf("build.sh: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	dist := filepath.Join(checkout, "dist")
	var files []string
	for _, tg := range targets() {
		bin := filepath.Join(dist, "maildird-linux-"+tg.suffix)
		files = append(files, bin)
		t.Run(tg.suffix, func(t *testing.T) {
			for _, err := range []error{checkStaticELF(bin, tg), checkBuildSettings(bin, tg), checkSizeLine(res.stdout, bin)} {
				if err != nil {
					t.Error(err)
				}
			}
			runTarget(t, tg, bin, "maildird v9.8.7\n")
		})
	}
	if err := onlyFiles(dist, files...); err != nil {
		t.Error(err)
	}
}

// runTarget runs bin, under its emulator when it is foreign, and checks
// that it prints want. Without the emulator it is skipped.
func runTarget(t *testing.T, tg target, bin, want string) {
	t.Helper()
	name, args := bin, []string{}
	if tg.qemu != "" {
		q, err := exec.LookPath(tg.qemu)
		if err != nil {
			t.Logf("not run: %s is not installed", tg.qemu)
			return
		}
		name, args = q, []string{bin}
	}
	res := runCmd(t, runOptions{}, name, args...)
	if res.code != 0 || res.stdout != want {
		t.Errorf("%s: exit %d, stdout %q, want %q; stderr %q", bin, res.code, res.stdout, want, res.stderr)
	}
}

// TestBuildShDirtyVersion checks that uncommitted changes show in the
// version, so a binary built from an edited tree is never mistaken for
// the tagged release.
func TestBuildShDirtyVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	checkout := fakeCheckout(t)
	if err := os.WriteFile(filepath.Join(checkout, "main.go"), []byte(fakeMain+"\n// edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	res := runCmd(t, runOptions{dir: checkout, env: append(fakeEnv(), "DIST_DIR="+dist), timeout: buildTimeout}, "./build.sh", "amd64")
	if res.code != 0 {
		t.Fatalf("build.sh amd64: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "v9.8.7-dirty") {
		t.Errorf("build.sh does not announce version v9.8.7-dirty:\n%s", res.stdout)
	}
	runTarget(t, targets()[0], filepath.Join(dist, "maildird-linux-amd64"), "maildird v9.8.7-dirty\n")
}

// TestBuildShRelativeDistDir: a relative DIST_DIR is the caller's, not
// the script's.
func TestBuildShRelativeDistDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	checkout := fakeCheckout(t)
	caller := t.TempDir()
	res := runCmd(t, runOptions{dir: caller, env: append(fakeEnv(), "DIST_DIR=out"), timeout: buildTimeout},
		filepath.Join(checkout, "build.sh"), "armv7")
	if res.code != 0 {
		t.Fatalf("build.sh armv7: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if err := onlyFiles(filepath.Join(caller, "out"), "maildird-linux-armv7"); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(checkout, "out")); err == nil {
		t.Error("the relative DIST_DIR was taken from build.sh's directory")
	}
}

package contrib

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildTimeout bounds one build.sh run; a cold build of every target on a
// small shared machine takes a few minutes.
const buildTimeout = 15 * time.Minute

// target is what one build.sh target must produce.
type target struct {
	suffix  string
	machine elf.Machine
	class   elf.Class
	order   string // "little" or "big"
	// settings the Go build info must record, besides the common ones.
	settings map[string]string
	qemu     string // the user-mode emulator that runs it, "" for none
}

func targets() []target {
	return []target{
		{"amd64", elf.EM_X86_64, elf.ELFCLASS64, "little", map[string]string{"GOARCH": "amd64"}, ""},
		{"arm64", elf.EM_AARCH64, elf.ELFCLASS64, "little", map[string]string{"GOARCH": "arm64"}, "qemu-aarch64-static"},
		{"armv6", elf.EM_ARM, elf.ELFCLASS32, "little", map[string]string{"GOARCH": "arm", "GOARM": "6"}, "qemu-arm-static"},
		{"armv7", elf.EM_ARM, elf.ELFCLASS32, "little", map[string]string{"GOARCH": "arm", "GOARM": "7"}, "qemu-arm-static"},
		{"mipsle", elf.EM_MIPS, elf.ELFCLASS32, "little", map[string]string{"GOARCH": "mipsle", "GOMIPS": "softfloat"}, "qemu-mipsel-static"},
		{"mips", elf.EM_MIPS, elf.ELFCLASS32, "big", map[string]string{"GOARCH": "mips", "GOMIPS": "softfloat"}, "qemu-mips-static"},
		{"riscv64", elf.EM_RISCV, elf.ELFCLASS64, "little", map[string]string{"GOARCH": "riscv64"}, "qemu-riscv64-static"},
	}
}

// commonSettings are recorded in every release binary's build info.
func commonSettings() map[string]string {
	return map[string]string{"GOOS": "linux", "CGO_ENABLED": "0", "-trimpath": "true"}
}

// checkStaticELF says why path is not a statically linked ELF executable
// for tg, or returns nil.
func checkStaticELF(path string, tg target) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	var problems []string
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			problems = append(problems, "it has a program interpreter (PT_INTERP): it is dynamically linked")
		case elf.PT_DYNAMIC:
			problems = append(problems, "it has a dynamic section (PT_DYNAMIC)")
		}
	}
	if f.Type != elf.ET_EXEC {
		problems = append(problems, fmt.Sprintf("type %v, want ET_EXEC", f.Type))
	}
	if f.Machine != tg.machine || f.Class != tg.class {
		problems = append(problems, fmt.Sprintf("machine %v %v, want %v %v", f.Machine, f.Class, tg.machine, tg.class))
	}
	if order := strings.TrimSuffix(strings.ToLower(f.ByteOrder.String()), "endian"); order != tg.order {
		problems = append(problems, fmt.Sprintf("byte order %v, want %s endian", f.ByteOrder, tg.order))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", path, strings.Join(problems, "; "))
	}
	return nil
}

// checkBuildSettings says which of tg's Go build settings path lacks.
func checkBuildSettings(path string, tg target) error {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: reading the Go build info: %w", path, err)
	}
	got := map[string]string{}
	for _, s := range info.Settings {
		got[s.Key] = s.Value
	}
	var problems []string
	for _, want := range []map[string]string{commonSettings(), tg.settings} {
		for k, v := range want {
			if got[k] != v {
				problems = append(problems, fmt.Sprintf("%s=%q, want %q", k, got[k], v))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%s: %s", path, strings.Join(problems, ", "))
	}
	return nil
}

// checkSizeLine says whether build.sh's output has the size table row of
// file: its name, its exact size in bytes and in MiB.
func checkSizeLine(output, file string) error {
	info, err := os.Stat(file)
	if err != nil {
		return err
	}
	mib := fmt.Sprintf("%.2f", float64(info.Size())/(1<<20))
	row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(filepath.Base(file)) + `\s+` +
		strconv.FormatInt(info.Size(), 10) + `\s+` + regexp.QuoteMeta(mib) + `\s*$`)
	if !row.MatchString(output) {
		return fmt.Errorf("build.sh output has no size row `%s %d %s`:\n%s", filepath.Base(file), info.Size(), mib, output)
	}
	return nil
}

func TestBuildShUnknownTarget(t *testing.T) {
	dist := filepath.Join(t.TempDir(), "dist")
	res := runCmd(t, runOptions{dir: t.TempDir(), env: []string{"DIST_DIR=" + dist}},
		filepath.Join(repoRoot(t), "build.sh"), "nosuchtarget")
	if res.code != 2 {
		t.Errorf("exit code %d, want 2", res.code)
	}
	for _, want := range []string{"unknown target \"nosuchtarget\"", "usage:", "amd64 arm64 armv6 armv7 mipsle mips riscv64"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if _, err := os.Stat(dist); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DIST_DIR was touched before the arguments were checked: %v", err)
	}
	// A good target next to a bad one still builds nothing.
	res = runCmd(t, runOptions{env: []string{"DIST_DIR=" + dist}}, filepath.Join(repoRoot(t), "build.sh"), "amd64", "x86")
	if res.code != 2 {
		t.Errorf("amd64 x86: exit code %d, want 2", res.code)
	}
}

func TestBuildShHelp(t *testing.T) {
	res := runCmd(t, runOptions{}, filepath.Join(repoRoot(t), "build.sh"), "-h")
	if res.code != 0 || !strings.Contains(res.stdout, "usage:") {
		t.Errorf("build.sh -h: exit %d, stdout:\n%s", res.code, res.stdout)
	}
}

// TestBuildShAmd64 builds the real maildird for amd64 from another
// directory into a temporary DIST_DIR and checks what came out.
func TestBuildShAmd64(t *testing.T) {
	if testing.Short() {
		t.Skip("builds maildird; skipped with -short")
	}
	root := repoRoot(t)
	dist := t.TempDir()
	res := runCmd(t, runOptions{dir: t.TempDir(), env: []string{"DIST_DIR=" + dist}, timeout: buildTimeout},
		filepath.Join(root, "build.sh"), "amd64")
	if res.code != 0 {
		t.Fatalf("build.sh amd64: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	bin := filepath.Join(dist, "maildird-linux-amd64")
	tg := targets()[0]
	for _, err := range []error{checkStaticELF(bin, tg), checkBuildSettings(bin, tg), checkSizeLine(res.stdout, bin), onlyFiles(dist, bin)} {
		if err != nil {
			t.Error(err)
		}
	}
	out := runCmd(t, runOptions{}, bin, "version")
	if out.code != 0 || !regexp.MustCompile(`^maildird \S+\n$`).MatchString(out.stdout) {
		t.Errorf("%s version: exit %d, stdout %q, stderr %q", bin, out.code, out.stdout, out.stderr)
	}
	// In a git checkout the version is git describe's, not the default.
	if _, err := os.Stat(filepath.Join(root, ".git")); err == nil && strings.TrimSpace(out.stdout) == "maildird dev" {
		t.Errorf("the binary says %q: build.sh did not stamp git describe's version", out.stdout)
	}
}

// onlyFiles says whether dir holds exactly the files named.
func onlyFiles(dir string, files ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var got, want []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	for _, f := range files {
		want = append(want, filepath.Base(f))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s holds %q, want %q", dir, got, want)
	}
	return nil
}

func TestStaticELFCheckRejectsDynamic(t *testing.T) {
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skipf("no /bin/sh to compare with: %v", err)
	}
	f, err := elf.Open(sh)
	if err != nil {
		t.Skipf("/bin/sh is not ELF: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Progs == nil || !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Skipf("%s is not a dynamically linked amd64 program", sh)
	}
	if err := checkStaticELF(sh, targets()[0]); err == nil {
		t.Errorf("%s, a dynamic executable, passes as static", sh)
	}
	if err := checkStaticELF(sh, targets()[1]); err == nil || !strings.Contains(err.Error(), "machine") {
		t.Errorf("an amd64 file passes as arm64: %v", err)
	}
}

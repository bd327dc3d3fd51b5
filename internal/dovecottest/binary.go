package dovecottest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// binaries are the Dovecot programs a Server runs.
type binaries struct {
	dovecot string
	doveadm string
}

// sbinDirs are searched after PATH because a normal user's PATH often lacks
// the sbin directories where Debian installs the dovecot master.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// lookPath finds name in PATH, then in the sbin directories.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("dovecottest: %s not found in PATH or %s", name, strings.Join(sbinDirs, ", "))
}

// findBinaries locates dovecot and doveadm and checks that they are
// Dovecot 2.3: the configuration written here uses 2.3 syntax, which 2.4
// rejects.
func findBinaries() (binaries, error) {
	var b binaries
	var err error
	if b.dovecot, err = lookPath("dovecot"); err != nil {
		return b, err
	}
	if b.doveadm, err = lookPath("doveadm"); err != nil {
		return b, err
	}
	ver, err := dovecotVersion(b.dovecot)
	if err != nil {
		return b, err
	}
	if !strings.HasPrefix(ver, "2.3.") {
		return b, fmt.Errorf("dovecottest: %s is version %q, need 2.3.x (the config is written in 2.3 syntax)", b.dovecot, ver)
	}
	return b, nil
}

// dovecotVersion returns the first word of `dovecot --version`, e.g. "2.3.19.1".
func dovecotVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("dovecottest: %s --version: %w: %s", path, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("dovecottest: %s --version: %w", path, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return "", fmt.Errorf("dovecottest: %s --version printed nothing", path)
	}
	return fields[0], nil
}

// Available reports whether a Dovecot 2.3 master and doveadm are installed,
// i.e. whether Start would run instead of skipping.
func Available() bool {
	_, err := findBinaries()
	return err == nil
}

package dovecottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// doveadmTimeout bounds one doveadm run so that a hung command cannot hang
// the test.
const doveadmTimeout = 30 * time.Second

// Doveadm runs `doveadm -c <this server's config> args...` and returns its
// standard output, e.g. s.Doveadm(t, "mailbox", "status", "-u",
// "alice@example.org", "all", "INBOX"). A failure ends the test with
// doveadm's standard error.
func (s *Server) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.doveadm(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *Server) doveadm(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), doveadmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin.doveadm, append([]string{"-c", s.confPath}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = errors.Join(err, ctx.Err())
		}
		return stdout.String(), fmt.Errorf("dovecottest: doveadm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

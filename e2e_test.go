package main

// End-to-end tests of the built binary: the real process, real signals,
// real pipes and a real terminal.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "maildird-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "maildird")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building maildird:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveProc is a maildird serve process started by a test.
type serveProc struct {
	cmd   *exec.Cmd
	lines chan string // its stderr, line by line
	log   *bytes.Buffer
	// backlog holds lines started read that waitFor has not looked at.
	backlog []string
}

func startServer(t *testing.T, dir string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serveProc{cmd: cmd, lines: make(chan string, 1000), log: &bytes.Buffer{}}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return s
}

// waitFor reads log lines until one contains want, failing after 20 s.
func (s *serveProc) waitFor(t *testing.T, want string) string {
	t.Helper()
	for len(s.backlog) > 0 {
		line := s.backlog[0]
		s.backlog = s.backlog[1:]
		if strings.Contains(line, want) {
			return line
		}
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("server exited before logging %q; log:\n%s", want, s.log)
			}
			s.log.WriteString(line + "\n")
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("no %q in the log after 20s; log:\n%s", want, s.log)
		}
	}
}

// started waits until the server has bound its listeners (the listener
// group's first "listening" line); the lines it reads stay for waitFor.
// It reports false when the process exited
// because a port was taken meanwhile: ports picked by freePort are free
// when picked, but a parallel test's client may take one before the
// server binds it, and the caller then tries other ports.
func (s *serveProc) started(t *testing.T) bool {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				if strings.Contains(s.log.String(), "address already in use") {
					s.cmd.Wait()
					return false
				}
				t.Fatalf("server exited before listening; log:\n%s", s.log)
			}
			s.log.WriteString(line + "\n")
			s.backlog = append(s.backlog, line)
			if strings.Contains(line, "msg=listening") {
				return true
			}
		case <-deadline:
			t.Fatalf("no listener after 20s; log:\n%s", s.log)
		}
	}
}

// serveOnFreePorts starts the binary on cfg with the listeners names
// (empty in cfg) on free 127.0.0.1 ports, picking others when one was
// taken before the server could bind it. It returns the ports by name.
func serveOnFreePorts(t *testing.T, cfg string, names ...string) (*serveProc, map[string]string) {
	t.Helper()
	template, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		ports := map[string]string{}
		text := string(template)
		for _, name := range names {
			ports[name] = freePort(t)
			on := strings.Replace(text, "\n"+name+" =\n", "\n"+name+" = 127.0.0.1:"+ports[name]+"\n", 1)
			if on == text {
				t.Fatalf("%s has no empty %q listener to turn on", cfg, name)
			}
			text = on
		}
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, t.TempDir(), "-config", cfg)
		if s.started(t) {
			return s, ports
		}
		if try == 4 {
			t.Fatalf("no free ports after 5 tries; log:\n%s", s.log)
		}
	}
}

// stop signals the server and checks it exits 0 in time.
func (s *serveProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for line := range s.lines {
			s.log.WriteString(line + "\n")
		}
		done <- s.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited with %v after %v; log:\n%s", err, sig, s.log)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("server still running 15s after %v", sig)
	}
	if !strings.Contains(s.log.String(), "maildird stopping") {
		t.Errorf("no clean stop logged:\n%s", s.log)
	}
}

// TestServeBuiltInDefault is `go run .` on a fresh checkout: no config, no
// root, data in ./maildird-data, and it says where it listens and how to
// add the first user.
func TestServeBuiltInDefault(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	s.waitFor(t, "maildird starting")
	want := []string{"smtp addr=127.0.0.1:2525", "submission addr=127.0.0.1:2587", "submissions addr=127.0.0.1:2465",
		"imap addr=127.0.0.1:2143", "imaps addr=127.0.0.1:2993", "pop3 addr=127.0.0.1:2110", "pop3s addr=127.0.0.1:2995",
		"http addr=127.0.0.1:2080"}
	for _, w := range want {
		if line := s.waitFor(t, "listen address"); !strings.Contains(line, "service="+w) {
			t.Errorf("listen address line %q, want service=%s; log:\n%s", line, w, s.log)
		}
	}
	s.waitFor(t, "user add you@localhost")
	s.stop(t, syscall.SIGTERM)
	for _, f := range []string{"maildird-data", "maildird-data/tls/selfsigned.crt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("built-in default did not make %s: %v", f, err)
		}
	}
}

func TestServeStopsOnSIGINTAndRefusesASecondServer(t *testing.T) {
	cfg, _ := writeConfig(t, "")
	s := startServer(t, t.TempDir(), "-config", cfg)
	s.waitFor(t, "maildird starting")

	out, err := exec.Command(binPath, "-config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") {
		t.Errorf("a second server on the same data_dir: err %v, output %q", err, out)
	}
	s.stop(t, syscall.SIGINT)
}

func TestServeBadConfigExitsWithOneLine(t *testing.T) {
	cfg, _ := writeConfig(t, "[nosuchsection]\n")
	out, err := exec.Command(binPath, "-config", cfg).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("bad config: err %v, want a non-zero exit", err)
	}
	text := strings.TrimSpace(string(out))
	if strings.Contains(text, "\n") || !strings.Contains(text, cfg+":") || !strings.Contains(text, "nosuchsection") {
		t.Errorf("want one line naming file:line and the section, got:\n%s", text)
	}
}

func TestUserAddFromPipe(t *testing.T) {
	cfg, dataDir := writeConfig(t, "")
	cmd := exec.Command(binPath, "-config", cfg, "user", "add", "alice@example.org")
	cmd.Stdin = strings.NewReader("piped secret\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(dataDir, "passwd"))
	if !strings.HasPrefix(string(passwd), "alice@example.org:{BLF-CRYPT}") {
		t.Errorf("passwd: %q", passwd)
	}
}

// TestUserAddPromptsWithoutEcho runs `user add` on a real pseudo-terminal:
// it must prompt twice and must not echo what is typed.
func TestUserAddPromptsWithoutEcho(t *testing.T) {
	cfg, dataDir := writeConfig(t, "")
	ptmx, tty, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(binPath, "-config", cfg, "user", "add", "alice@example.org")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()

	screen := &bytes.Buffer{}
	expect := func(want string) {
		t.Helper()
		ptmx.SetReadDeadline(time.Now().Add(15 * time.Second))
		buf := make([]byte, 256)
		for !strings.Contains(screen.String(), want) {
			n, err := ptmx.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				t.Fatalf("waiting for %q: %v; screen so far %q", want, err, screen)
			}
		}
	}
	expect("Password: ")
	io.WriteString(ptmx, "typed-secret\r")
	expect("Again: ")
	io.WriteString(ptmx, "typed-secret\r")
	expect("added alice@example.org")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("user add on a terminal: %v; screen %q", err, screen)
	}
	if strings.Contains(screen.String(), "typed-secret") {
		t.Errorf("the password was echoed: %q", screen)
	}
	if passwd, _ := os.ReadFile(filepath.Join(dataDir, "passwd")); !strings.Contains(string(passwd), "{BLF-CRYPT}") {
		t.Errorf("no user written: %q", passwd)
	}
}

// openPTY opens a pseudo-terminal pair with the Linux /dev/ptmx ioctls.
func openPTY() (ptmx, tty *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		return nil, nil, err
	}
	return ptmx, tty, nil
}

func TestVersionBinary(t *testing.T) {
	out, err := exec.Command(binPath, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "maildird ") {
		t.Fatalf("version: %v %q", err, out)
	}
}

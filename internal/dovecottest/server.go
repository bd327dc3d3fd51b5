package dovecottest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Options describes the Dovecot a test wants.
type Options struct {
	// MailRoot is the Maildir tree: mail_location = maildir:<MailRoot>/%d/%n,
	// DESIGN.md §3's layout. It is created if missing. When the test runs as
	// root, Start gives the whole tree to the unprivileged mail user Dovecot
	// needs (see Server.ChownMailRoot).
	MailRoot string
	// Users maps login addresses (local@domain) to plain passwords.
	Users map[string]string
	// PasswordHashes gives some of Users a ready Dovecot password hash
	// ("{BLF-CRYPT}$2y$..."), so that benchmarks make both servers check
	// the same kind of hash at LOGIN.
	PasswordHashes map[string]string
	// Extra is appended to dovecot.conf verbatim.
	Extra string
}

// Server is a running Dovecot.
type Server struct {
	IMAPAddr string // 127.0.0.1:port, plain IMAP (LOGIN allowed)
	POP3Addr string // 127.0.0.1:port, plain POP3 (USER/PASS allowed)

	// MailUID and MailGID own the mail files Dovecot writes.
	MailUID, MailGID int

	mailRoot string
	extra    string
	id       identity
	bin      binaries
	stateDir string
	confPath string
	logPath  string
	cmd      *exec.Cmd     // nil when not running
	pid      int           // the master's PID, kept after it stops
	logStart int64         // log size when the current master started
	exited   chan struct{} // closed once cmd.Wait has returned
	waitErr  error         // cmd.Wait's result, valid after exited is closed
}

// startTimeout bounds the wait for both ports to greet.
const startTimeout = 10 * time.Second

// stopTimeout is how long the master gets after SIGTERM before SIGKILL.
const stopTimeout = 5 * time.Second

// startAttempts bounds the retries when a chosen port was taken meanwhile.
const startAttempts = 3

// Start runs Dovecot for the test and registers its shutdown with
// t.Cleanup. It skips the test when Dovecot 2.3 is not installed, unless
// the CI environment variable is non-empty, where it fails it instead.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := findBinaries()
	if err != nil {
		unavailable(t, os.Getenv, err)
		return nil // not reached with a real testing.TB
	}
	s, err := prepare(bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The log is removed with the state directory: show it while the
		// failure can still be explained by it.
		if t.Failed() {
			t.Logf("dovecottest: %s (tail):\n%s", s.logPath, s.logTail(30))
		}
		if err := s.close(); err != nil {
			t.Error(err)
		}
	})
	if err := s.startWithRetries(); err != nil {
		t.Fatal(err)
	}
	return s
}

// unavailable skips the test for a missing or unusable Dovecot, or fails it
// when the CI environment variable is set: CI must run these tests.
func unavailable(t testing.TB, getenv func(string) string, err error) {
	t.Helper()
	if getenv("CI") != "" {
		t.Fatalf("dovecottest: CI must run the Dovecot comparison tests: %v", err)
		return
	}
	t.Skipf("dovecottest: Dovecot 2.3 not available: %v", err)
}

// prepare checks opts and writes the passwd-file into a fresh state
// directory. The state directory comes from os.MkdirTemp rather than
// t.TempDir so that its path stays short: Dovecot's UNIX sockets live in it
// and socket paths are limited to about 100 bytes.
func prepare(bin binaries, opts Options) (*Server, error) {
	if opts.MailRoot == "" {
		return nil, errors.New("dovecottest: Options.MailRoot is empty")
	}
	mailRoot, err := filepath.Abs(opts.MailRoot)
	if err != nil {
		return nil, fmt.Errorf("dovecottest: mail root: %w", err)
	}
	if err := checkConfPath("mail root", mailRoot); err != nil {
		return nil, err // before anything is created or chowned
	}
	id, err := currentIdentity()
	if err != nil {
		return nil, err
	}
	passwd, err := passwdFile(opts.Users, opts.PasswordHashes, id.mailUID, id.mailGID)
	if err != nil {
		return nil, err // refuse bad users before touching the disk
	}
	if err := os.MkdirAll(mailRoot, 0o755); err != nil {
		return nil, fmt.Errorf("dovecottest: create mail root: %w", err)
	}
	stateDir, err := os.MkdirTemp("", "dovecottest")
	if err != nil {
		return nil, fmt.Errorf("dovecottest: state dir: %w", err)
	}
	s := &Server{
		MailUID: id.mailUID, MailGID: id.mailGID,
		mailRoot: mailRoot, extra: opts.Extra, id: id, bin: bin, stateDir: stateDir,
		confPath: filepath.Join(stateDir, "dovecot.conf"),
		logPath:  filepath.Join(stateDir, "dovecot.log"),
	}
	if err := s.prepareDirs(passwd); err != nil {
		os.RemoveAll(stateDir)
		return nil, err
	}
	return s, nil
}

// prepareDirs lays out the state directory and, as root, opens the way to
// the mail root and the sockets for Dovecot's unprivileged mail processes.
func (s *Server) prepareDirs(passwd []byte) error {
	for _, d := range []string{"run", "state"} {
		if err := os.Mkdir(filepath.Join(s.stateDir, d), 0o755); err != nil {
			return fmt.Errorf("dovecottest: state dir: %w", err)
		}
	}
	// Owner-only: Dovecot's auth process runs as the test's user, root or not.
	if err := os.WriteFile(s.passwdPath(), passwd, 0o600); err != nil {
		return fmt.Errorf("dovecottest: write passwd-file: %w", err)
	}
	if !s.id.root {
		return nil
	}
	if err := os.Chmod(s.stateDir, 0o755); err != nil {
		return fmt.Errorf("dovecottest: state dir: %w", err)
	}
	if err := makeReachable(s.mailRoot, os.TempDir()); err != nil {
		return err
	}
	return chownTree(s.mailRoot, s.MailUID, s.MailGID)
}

// ChownMailRoot gives every file under MailRoot to MailUID:MailGID. A test
// running as root that wrote into the tree itself (as maildird does when
// run in-process) calls it before Dovecot touches those files, since
// Dovecot's mail processes are not root. It does nothing when not root.
func (s *Server) ChownMailRoot(t testing.TB) {
	t.Helper()
	if !s.id.root {
		return
	}
	if err := chownTree(s.mailRoot, s.MailUID, s.MailGID); err != nil {
		t.Fatal(err)
	}
}

// PID is the process id of Dovecot's master (also after it has stopped).
func (s *Server) PID() int { return s.pid }

// ConfigPath is the dovecot.conf this server runs with.
func (s *Server) ConfigPath() string { return s.confPath }

// LogPath is Dovecot's log file (log_path).
func (s *Server) LogPath() string { return s.logPath }

func (s *Server) passwdPath() string { return filepath.Join(s.stateDir, "passwd") }

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// exitedNow reports whether the master has exited, without waiting.
func (s *Server) exitedNow() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// isGone reports whether no process has the master's PID any more.
func isGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

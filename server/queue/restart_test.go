package queue

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

func TestRestartResumesAndSkipsSentRecipients(t *testing.T) {
	f := newFixture(t)
	far := newRemote(t, remoteOptions{})
	other := newRemote(t, remoteOptions{})
	other.rcpt = func(n int, _ string) error {
		return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "later")
	}
	f.net.host("mx.far.test", far.addr)
	f.net.mx("far.test", "mx.far.test")
	f.net.host("mx.other.test", other.addr)
	f.net.mx("other.test", "mx.other.test")
	f.opts.Retry = func(int) time.Duration { return time.Hour }
	q := f.start()
	id := f.send("alice@home.test", []string{"bob@far.test", "dave@other.test"}, plainMsg, MessageOptions{})
	f.waitFor("bob's delivery and dave's deferral", func() bool {
		env, err := q.spool.ReadEnvelope(id)
		return err == nil && env.Rcpts[0].State == StateSent && env.Rcpts[1].Attempts == 1
	})
	q.Stop()

	// The next start: dave's server works now; bob must not get it again.
	other.rcpt = nil
	q2, err := New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	f.q = q2
	if err := q2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q2.Stop)
	q2.Flush()
	f.waitEmpty()
	if n := len(far.messages()); n != 1 {
		t.Fatalf("bob got %d copies, want 1", n)
	}
	if got := other.messages(); len(got) != 1 || !slices.Equal(got[0].rcpts, []string{"dave@other.test"}) {
		t.Fatalf("dave's server got %+v", got)
	}
}

func TestCLIChangesReachTheRunningQueue(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	r.rcpt = func(int, string) error { return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "later") }
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	f.opts.Retry = func(int) time.Duration { return time.Hour }
	q := f.start()

	// Queued by another process (sendmail): written to the spool only.
	other, err := OpenSpool(f.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := other.newMessage("alice@home.test", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(m, crlf(plainMsg))
	m.AddRecipient("bob@far.test")
	if err := m.Commit(); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the first attempt", func() bool { return r.sessionCount() == 1 })

	// queue flush: retried at once despite the hour's wait.
	if err := other.RequestFlush(); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the flushed attempt", func() bool { return r.sessionCount() == 2 })

	// queue delete: gone, and never tried again.
	if err := other.Delete(m.ID()); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the deletion noticed", func() bool { return q.Pending() == 0 })
	other.RequestFlush()
	time.Sleep(300 * time.Millisecond)
	if n := r.sessionCount(); n != 2 {
		t.Fatalf("%d sessions after the delete, want 2", n)
	}
	if _, err := os.Stat(other.msgPath(m.ID())); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the message file outlived its delete")
	}
}

func TestCleanRemovesInterruptedCommits(t *testing.T) {
	s, err := OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	orphan := filepath.Join(s.dir, "msg", "00aa")
	young := filepath.Join(s.dir, "msg", "00bb")
	tmp := filepath.Join(s.dir, "tmp", "x.msg.1")
	for _, p := range []string{orphan, young, tmp} {
		os.WriteFile(p, []byte("x"), 0o600)
	}
	os.Chtimes(orphan, old, old)
	os.Chtimes(tmp, old, old)
	if err := s.Clean(time.Now()); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{orphan: false, tmp: false, young: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", p, err == nil, want)
		}
	}
}

// The crash test runs the queue in a child process (this test binary)
// and kills it with SIGKILL while messages are queued and a delivery is
// in flight. The child's network is the parent's fake: routes and MX
// records travel in an environment variable.

const crashEnv = "MAILDIRD_QUEUE_CRASH_CHILD"

type crashConfig struct {
	Dir    string            `json:"dir"`
	Mail   string            `json:"mail"`
	Routes map[string]string `json:"routes"` // MX host -> real address
}

// TestCrashChild is the child: it runs a queue until killed.
func TestCrashChild(t *testing.T) {
	raw := os.Getenv(crashEnv)
	if raw == "" {
		t.Skip("only run as the crash test's child process")
	}
	var cfg crashConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	for host, real := range cfg.Routes {
		f.net.host(host, real)
		f.net.mx(strings.TrimPrefix(host, "mx."), host)
	}
	f.opts.Dir = cfg.Dir
	f.opts.Logger = f.opts.Logger.With()
	f.opts.Retry = func(int) time.Duration { return 50 * time.Millisecond }
	q, err := New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("child started\n")
	time.Sleep(time.Minute) // killed long before
	q.Stop()
}

func startCrashChild(t *testing.T, cfg crashConfig) *exec.Cmd {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+string(raw))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	f := newFixture(t) // the spool and the remotes; its queue never starts
	far := newRemote(t, remoteOptions{})
	stalled := make(chan struct{}, 10)
	release := make(chan struct{})
	other := newRemote(t, remoteOptions{})
	other.data = func(n int, _ []byte) error {
		if n == 1 {
			// The first delivery to other.test hangs before its reply
			// until the client is gone, and is then not accepted.
			stalled <- struct{}{}
			<-release
			return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "not stored")
		}
		return nil
	}
	slow := newRemote(t, remoteOptions{})
	slow.rcpt = func(n int, _ string) error {
		if n == 1 {
			return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "later")
		}
		return nil
	}
	q, err := New(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	f.q = q
	id1 := f.send("alice@home.test", []string{"bob@far.test", "dave@other.test"}, plainMsg, MessageOptions{})
	id2 := f.send("alice@home.test", []string{"carol@far.test"}, plainMsg, MessageOptions{})
	f.send("alice@home.test", []string{"erin@slow.test"}, plainMsg, MessageOptions{})

	cfg := crashConfig{Dir: f.opts.Dir, Routes: map[string]string{
		"mx.far.test": far.addr, "mx.other.test": other.addr, "mx.slow.test": slow.addr,
	}}
	child := startCrashChild(t, cfg)
	select {
	case <-stalled:
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery to other.test never started")
	}
	f.waitFor("bob recorded as sent", func() bool {
		env, err := q.spool.ReadEnvelope(id1)
		return err == nil && env.Rcpts[0].State == StateSent
	})
	f.waitFor("carol delivered", func() bool { return len(far.messages()) == 2 })
	// Between the remote's 250 and the durable record of it, a crash can
	// make any mail server send again; the test kills after the record
	// (carol's message, done, leaves the spool).
	f.waitFor("carol recorded as sent", func() bool {
		env, err := q.spool.ReadEnvelope(id2)
		return (err == nil && env.Rcpts[0].State == StateSent) || errors.Is(err, fs.ErrNotExist)
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	close(release)

	// After the restart every recipient gets the message exactly once.
	startCrashChild(t, cfg)
	f.waitEmpty()
	count := map[string]int{}
	for _, r := range []*remote{far, other, slow} {
		for _, m := range r.messages() {
			for _, a := range m.rcpts {
				count[a]++
			}
		}
	}
	for _, a := range []string{"bob@far.test", "carol@far.test", "dave@other.test", "erin@slow.test"} {
		if count[a] != 1 {
			t.Errorf("%s got %d copies, want exactly 1 (all: %v)", a, count[a], count)
		}
	}
}

func TestStopClosesDeliveriesInFlight(t *testing.T) {
	f := newFixture(t)
	r := newRemote(t, remoteOptions{})
	inData := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	r.data = func(int, []byte) error {
		inData <- struct{}{}
		<-release
		return nil
	}
	f.net.host("mx.far.test", r.addr)
	f.net.mx("far.test", "mx.far.test")
	q := f.start()
	id := f.send("alice@home.test", []string{"bob@far.test"}, plainMsg, MessageOptions{})
	<-inData
	start := time.Now()
	q.Stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Stop took %v with a delivery in flight", d)
	}
	env, err := q.spool.ReadEnvelope(id)
	if err != nil || env.Rcpts[0].State != StatePending || env.Rcpts[0].Attempts != 0 {
		t.Fatalf("after Stop: %+v, %v; want still pending, no attempt counted", env.Rcpts[0], err)
	}
}

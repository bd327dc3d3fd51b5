package dovecottest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// startWithRetries starts Dovecot on fresh free ports, again when a port was
// taken between picking and binding it.
func (s *Server) startWithRetries() error {
	var err error
	for range startAttempts {
		err = s.startOnce()
		if err == nil || !errors.Is(err, errAddrInUse) {
			return err
		}
		if stopErr := s.stop(); stopErr != nil {
			return errors.Join(err, stopErr)
		}
	}
	return err
}

// errAddrInUse marks a start that failed only because a port was taken.
var errAddrInUse = errors.New("address already in use")

// startOnce writes dovecot.conf for two new ports, starts the master in the
// foreground (-F) as our child and waits until both ports greet.
func (s *Server) startOnce() error {
	imapPort, pop3Port, err := freePorts()
	if err != nil {
		return err
	}
	conf, err := renderConfig(confParams{
		StateDir: s.stateDir, MailRoot: s.mailRoot, PasswdPath: s.passwdPath(),
		LogPath: s.logPath, IMAPPort: imapPort, POP3Port: pop3Port,
		ID: s.id, Extra: s.extra,
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.confPath, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("dovecottest: write dovecot.conf: %w", err)
	}
	s.IMAPAddr, s.POP3Addr = addr(imapPort), addr(pop3Port)
	if err := s.spawn(); err != nil {
		return err
	}
	return s.waitReady()
}

// spawn starts the master. Its stdout and stderr (where it reports config
// errors before the log is open) are appended to the log file.
func (s *Server) spawn() error {
	out, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("dovecottest: open log: %w", err)
	}
	defer out.Close() // the child keeps its own descriptor
	// A retry's failure must be judged by its own log lines only.
	if fi, err := out.Stat(); err == nil {
		s.logStart = fi.Size()
	}
	cmd := exec.Command(s.bin.dovecot, "-F", "-c", s.confPath)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dovecottest: start %s: %w", s.bin.dovecot, err)
	}
	s.cmd, s.pid, s.exited = cmd, cmd.Process.Pid, make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// waitReady polls until IMAP and POP3 both send their greeting, the master
// exits, or startTimeout passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	ready := map[string]bool{}
	probes := map[string]string{s.IMAPAddr: "* OK", s.POP3Addr: "+OK"}
	for time.Now().Before(deadline) {
		if s.exitedNow() {
			return s.startFailure(fmt.Sprintf("master exited: %v", s.waitErr))
		}
		for a, want := range probes {
			if !ready[a] && greets(a, want) {
				ready[a] = true
			}
		}
		if len(ready) == len(probes) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s.startFailure(fmt.Sprintf("IMAP %s and POP3 %s not both greeting after %v", s.IMAPAddr, s.POP3Addr, startTimeout))
}

// greets reports whether a server at a answers with a line starting want.
func greets(a, want string) bool {
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, want)
}

// startFailure builds the error for a failed start, with the tail of the
// log, marked errAddrInUse when a port was taken.
func (s *Server) startFailure(what string) error {
	tail := s.logTail(20)
	err := fmt.Errorf("dovecottest: %s\n--- %s (tail) ---\n%s", what, s.logPath, tail)
	if strings.Contains(tail, "Address already in use") {
		return fmt.Errorf("%w: %w", errAddrInUse, err)
	}
	return err
}

// logTail returns the last n lines of Dovecot's log.
func (s *Server) logTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if s.logStart <= int64(len(data)) {
		data = data[s.logStart:]
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// stop ends the master: SIGTERM, then SIGKILL after stopTimeout, and waits
// for it. It is safe to call more than once and before a successful start.
func (s *Server) stop() error {
	if s.cmd == nil {
		return nil
	}
	if !s.exitedNow() {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("dovecottest: SIGTERM to dovecot %d: %w", s.cmd.Process.Pid, err)
		}
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	s.cmd = nil
	if !isGone(s.pid) {
		return fmt.Errorf("dovecottest: dovecot master %d still exists after stop", s.pid)
	}
	return nil
}

// close stops the master and removes the state directory (config,
// passwd-file, sockets, log). The log's tail goes into the error when
// stopping fails, since the file is gone afterwards.
func (s *Server) close() error {
	err := s.stop()
	if err != nil {
		err = fmt.Errorf("%w\n--- %s (tail) ---\n%s", err, s.logPath, s.logTail(20))
	}
	if rmErr := os.RemoveAll(s.stateDir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("dovecottest: remove state dir: %w", rmErr))
	}
	return err
}

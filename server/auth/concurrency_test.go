package auth

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Environment of a child process started by TestConcurrentAddUser: the test
// binary re-executes itself and TestMain runs addUsersChild instead of the
// tests.
const (
	envChildDir    = "MAILDIRD_AUTH_TEST_CHILD_DIR"
	envChildPrefix = "MAILDIRD_AUTH_TEST_CHILD_PREFIX"
	envChildCount  = "MAILDIRD_AUTH_TEST_CHILD_COUNT"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envChildDir); dir != "" {
		if err := addUsersChild(dir, os.Getenv(envChildPrefix), os.Getenv(envChildCount)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// addUsersChild says "ready", waits until its stdin is closed so that all
// writers start together, then adds its users.
func addUsersChild(dir, prefix, countStr string) error {
	count, err := strconv.Atoi(countStr)
	if err != nil {
		return err
	}
	s, err := Open(dir, Options{BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	for i := range count {
		if err := s.AddUser(fmt.Sprintf("%s%d@example.org", prefix, i), "pw"); err != nil {
			return err
		}
	}
	return nil
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startChild(t *testing.T, dir, prefix string, count int) child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildDir+"="+dir, envChildPrefix+"="+prefix, envChildCount+"="+strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child %s: %q, %v", prefix, line, err)
	}
	return child{cmd: cmd, stdin: stdin}
}

// TestConcurrentAddUser has goroutines (on a shared Store and on Stores of
// their own) and separate processes add users at the same time. Every user
// must be in the file afterwards: without the flock around the
// read-modify-write, writers would overwrite each other's additions.
func TestConcurrentAddUser(t *testing.T) {
	const (
		children   = 2
		goroutines = 8
		perWriter  = 5
	)
	dir := t.TempDir()
	shared, _ := openTest(t, dir, "example.org")

	var kids []child
	for c := range children {
		kids = append(kids, startChild(t, dir, fmt.Sprintf("proc%d-", c), perWriter))
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perWriter)
	begin := make(chan struct{})
	for g := range goroutines {
		s := shared
		if g%2 == 1 {
			s, _ = openTest(t, dir, "example.org")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			for i := range perWriter {
				errs <- s.AddUser(fmt.Sprintf("go%d-%d@example.org", g, i), "pw")
			}
		}()
	}
	for _, k := range kids {
		k.stdin.Close()
	}
	close(begin)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("AddUser: %v", err)
		}
	}
	for _, k := range kids {
		if err := k.cmd.Wait(); err != nil {
			t.Errorf("child %v: %v", k.cmd.Env[len(k.cmd.Env)-2], err)
		}
	}

	// A fresh Store reads the file as it is on disk now.
	fresh, _ := openTest(t, dir)
	users, err := fresh.Users()
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[string]bool)
	for _, u := range users {
		have[u] = true
	}
	var want []string
	for g := range goroutines {
		for i := range perWriter {
			want = append(want, fmt.Sprintf("go%d-%d@example.org", g, i))
		}
	}
	for c := range children {
		for i := range perWriter {
			want = append(want, fmt.Sprintf("proc%d-%d@example.org", c, i))
		}
	}
	for _, u := range want {
		if !have[u] {
			t.Errorf("user %s lost", u)
		}
	}
	if len(users) != len(want) {
		t.Errorf("%d users on disk; want %d", len(users), len(want))
	}
	if _, err := fresh.Verify("proc1-4@example.org", "pw"); err != nil {
		t.Errorf("Verify of a child's user: %v", err)
	}
}

// TestConcurrentReadsAndWrites runs logins and lookups while users are added
// and aliases change, for the race detector.
func TestConcurrentReadsAndWrites(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTest(t, dir, "example.org")
	mustAddUser(t, s, "alice@example.org", "pw")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				switch g {
				case 0:
					if err := s.AddUser(fmt.Sprintf("u%d@example.org", i), "pw"); err != nil {
						t.Error(err)
					}
				case 1:
					alias := fmt.Sprintf("a%d@example.org", i)
					if err := s.AddAlias(alias, []string{"alice@example.org"}); err != nil {
						t.Error(err)
					}
				case 2:
					if _, err := s.Verify("alice@example.org", "pw"); err != nil {
						t.Error(err)
					}
				default:
					if _, err := s.Lookup("alice+x@example.org"); err != nil {
						t.Error(err)
					}
					if _, err := s.Aliases(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	users, _ := s.Users()
	aliases, _ := s.Aliases()
	if len(users) != 11 || len(aliases) != 10 {
		t.Errorf("%d users, %d aliases; want 11 and 10", len(users), len(aliases))
	}
}

package maildir

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "MAILDIR_CRASH_CHILD_ROOT"

// TestCrashChild is the child of TestCrashSafety: it delivers, syncs and
// flags until it is killed, printing "D <base>" after each delivery
// returned. It does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashEnv)
	if root == "" {
		t.Skip("child process of TestCrashSafety")
	}
	s, err := Open(Options{Root: root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println("E", err)
		return
	}
	body := strings.Repeat("line of a message that has some length\n", 200) + "END\n"
	for i := 0; i < 100000; i++ {
		res, err := s.Deliver(boxAddr, "", strings.NewReader(body), 0)
		if err != nil {
			fmt.Println("E", err)
			return
		}
		fmt.Println("D", res.Base) // unbuffered: a line printed is a delivery acknowledged
		if i%3 == 0 {
			m, err := s.OpenMailbox(boxAddr, "INBOX")
			if err != nil {
				fmt.Println("E", err)
				return
			}
			var uids []uint32
			for _, msg := range m.Messages() {
				uids = append(uids, msg.UID)
			}
			m.StoreFlags(uids, FlagsAdd, FlagSeen, []string{"crash"})
			m.Append(strings.NewReader(body), FlagFlagged, nil, time.Time{})
			m.Close()
		}
	}
}

// TestCrashSafety kills a delivering child with SIGKILL at random moments:
// every acknowledged delivery is there exactly once, no partial file is
// visible, the uidlist parses and covers every file, and no UID changes.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	rounds := 60
	if testing.Short() {
		rounds = 10
	}
	root := t.TempDir()
	s, err := Open(Options{Root: root, LockTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dir := boxInboxDir(t, s)
	acked := map[string]bool{}
	uidOf := map[string]uint32{}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	deadline := time.Now().Add(90 * time.Second)
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+root)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+rng.Intn(60)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			line := sc.Text()
			if base, ok := strings.CutPrefix(line, "D "); ok {
				acked[base] = true
			} else if strings.HasPrefix(line, "E ") {
				t.Fatalf("round %d: child: %s", round, line)
			}
		}

		// Every visible file is whole and every base appears once.
		count := map[string]int{}
		for _, sub := range []string{"new", "cur"} {
			names, _, _, err := readDirNames(filepath.Join(dir, sub))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				base := parseFileName(n).base
				count[base]++
				data, err := os.ReadFile(filepath.Join(dir, sub, n))
				if err != nil {
					t.Fatal(err)
				}
				if size, _ := sizesFromBase(base); size != int64(len(data)) || !bytes.HasSuffix(data, []byte("END\n")) {
					t.Fatalf("round %d: partial file %s/%s (%d bytes)", round, sub, n, len(data))
				}
			}
		}
		for base := range acked {
			if count[base] != 1 {
				t.Fatalf("round %d: acknowledged %s is there %d times", round, base, count[base])
			}
		}
		// A session opens it (breaking the dead child's lock) and every
		// file has a UID in a parsable uidlist; UIDs never change.
		m, err := s.OpenMailbox(boxAddr, "INBOX")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ul := boxReadUL(t, dir)
		inList := map[string]uint32{}
		for _, r := range ul.recs {
			inList[r.base] = r.uid
		}
		for base := range count {
			if _, ok := inList[base]; !ok {
				t.Fatalf("round %d: %s not in the uidlist", round, base)
			}
		}
		for _, msg := range m.Messages() {
			if u, ok := uidOf[msg.Base]; ok && u != msg.UID {
				t.Fatalf("round %d: %s changed UID %d -> %d", round, msg.Base, u, msg.UID)
			}
			uidOf[msg.Base] = msg.UID
		}
		m.Close()
	}
	if len(acked) == 0 {
		t.Fatal("the child never delivered")
	}
	t.Logf("%d deliveries acknowledged, %d messages", len(acked), len(uidOf))
}

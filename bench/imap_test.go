package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildird/maildird/internal/dovecottest"
	"github.com/maildird/maildird/internal/mailgen"
	"github.com/maildird/maildird/maildir"
)

// genMaildir writes alice's INBOX of n messages under root.
func genMaildir(b *testing.B, root string, n int) {
	b.Helper()
	if err := mailgen.Maildir(filepath.Join(root, "example.org", "alice"), n); err != nil {
		b.Fatal(err)
	}
}

// maildirdProcess runs the built binary serving IMAP on root.
type maildirdProcess struct {
	cmd     *exec.Cmd
	addr    string
	dataDir string
}

func buildMaildird(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "maildird")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startMaildird(b *testing.B, bin, root string) *maildirdProcess {
	b.Helper()
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "config.ini")
	text := fmt.Sprintf("[server]\nhostname = bench.example.org\ndomains = example.org\ndata_dir = %s\n[storage]\nmail_root = %s\n"+
		"[listen]\nsmtp =\nsubmission =\nsubmissions =\nimap = %s\nimaps =\npop3 =\npop3s =\nhttp =\n"+
		"[tls]\nmode = off\n[limits]\nmax_connections_per_ip = 1000\n[log]\nlevel = warn\n", filepath.Join(dir, "data"), root, addr)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	add := exec.Command(bin, "-config", cfg, "user", "add", benchUser)
	add.Stdin = strings.NewReader(benchPass + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		b.Fatalf("user add: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &maildirdProcess{cmd: cmd, addr: addr, dataDir: filepath.Join(dir, "data")}
	b.Cleanup(p.stop)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 200 {
			b.Fatal("maildird did not start listening")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// passwordHash is the bench user's hash from maildird's passwd file.
func (p *maildirdProcess) passwordHash(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(p.dataDir, "passwd"))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, benchUser+":"); ok {
			hash, _, _ := strings.Cut(rest, ":")
			return hash
		}
	}
	b.Fatal("bench user not in maildird's passwd")
	return ""
}

func (p *maildirdProcess) stop() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(os.Interrupt)
		p.cmd.Wait()
	}
}

// steadyRSSKB is the median of a process's RSS over a second, once it
// has settled.
func steadyRSSKB(b *testing.B, pid int) int {
	time.Sleep(500 * time.Millisecond)
	var samples []int
	for range 5 {
		samples = append(samples, rssKB(b, pid))
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(samples)
	return samples[len(samples)/2]
}

// rssKB is a process's resident set size.
func rssKB(b *testing.B, pid int) int {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func login(b *testing.B, addr string) *imapclient.Client {
	b.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Login(benchUser, benchPass).Wait(); err != nil {
		b.Fatalf("login to %s: %v", addr, err)
	}
	return c
}

// timed runs fn and returns how long it took.
func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// imapWorkload is the list of measured operations, run against one server.
func imapWorkload(b *testing.B, addr string, n int) map[string]time.Duration {
	b.Helper()
	out := map[string]time.Duration{}
	all := imap.UIDSetNum()
	all.AddRange(1, 0)
	flagsRun := func() {
		c := login(b, addr)
		defer c.Close()
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			b.Fatal(err)
		}
		msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil || len(msgs) != n {
			b.Fatalf("UID FETCH 1:* (FLAGS): %d messages, %v", len(msgs), err)
		}
	}
	out["select+flags-cold"] = timed(flagsRun)
	out["select+flags-warm"] = timed(flagsRun)

	c := login(b, addr)
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	var seqAll imap.SeqSet
	seqAll.AddRange(1, 0)
	envelopes := func() {
		msgs, err := c.Fetch(seqAll, &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil || len(msgs) != n {
			b.Fatalf("FETCH 1:* (ENVELOPE): %d, %v", len(msgs), err)
		}
	}
	out["envelope-first"] = timed(envelopes)
	out["envelope-warm"] = timed(envelopes)
	out["search-subject"] = timed(func() {
		data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "topic 7"}}}, nil).Wait()
		if err != nil || len(data.AllUIDs()) == 0 {
			b.Fatalf("UID SEARCH SUBJECT: %v", err)
		}
	})
	rng := rand.New(rand.NewPCG(1, 2))
	out["100-random-body"] = timed(func() {
		for range 100 {
			uid := imap.UID(rng.IntN(n) + 1)
			set := imap.UIDSetNum(uid)
			msgs, err := c.Fetch(set, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
			if err != nil || len(msgs) != 1 {
				b.Fatalf("UID FETCH %d BODY.PEEK[]: %v", uid, err)
			}
		}
	})
	return out
}

// idleConnections opens k authenticated connections with INBOX selected.
func idleConnections(b *testing.B, addr string, k int) []*imapclient.Client {
	b.Helper()
	var cs []*imapclient.Client
	for range k {
		c := login(b, addr)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			b.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// BenchmarkIMAPVsDovecot measures maildird and Dovecot on the same
// generated Maildir in the same run. Run it with -benchtime 1x; each
// size is one sub-benchmark. Figures are milliseconds per operation for
// each server and the ratio maildird/Dovecot (lower is better), and the
// RSS maildird adds for 200 idle connections with INBOX selected.
func BenchmarkIMAPVsDovecot(b *testing.B) {
	bin := buildMaildird(b)
	for _, n := range []int{10000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			root := filepath.Join(b.TempDir(), "mail")
			genMaildir(b, root, n)
			// The UIDs are given out once, by maildird, so both servers
			// serve the same ones.
			store, err := maildir.Open(maildir.Options{Root: root})
			if err != nil {
				b.Fatal(err)
			}
			if mb, err := store.OpenMailbox(benchUser, "INBOX"); err != nil {
				b.Fatal(err)
			} else {
				mb.Close()
			}
			// A folder (or uidlist) written within the last second may
			// still change unseen (coarse timestamps), so maildird writes
			// its index only for an older one; let it be what a real
			// mailbox is, as old as that, so both servers build their
			// index at the first SELECT and not in the middle of a later
			// measurement.
			time.Sleep(1100 * time.Millisecond)
			md := startMaildird(b, bin, root)
			// Dovecot checks the very hash maildird stored ({BLF-CRYPT},
			// bcrypt cost 10), so LOGIN costs both servers the same.
			dc := dovecottest.Start(b, dovecottest.Options{MailRoot: root,
				Users:          map[string]string{benchUser: benchPass},
				PasswordHashes: map[string]string{benchUser: md.passwordHash(b)}})
			b.ResetTimer()
			for range b.N {
				ours := imapWorkload(b, md.addr, n)
				theirs := imapWorkload(b, dc.IMAPAddr, n)
				for name, d := range ours {
					b.ReportMetric(float64(d.Microseconds())/1000, name+"-maildird-ms")
					b.ReportMetric(float64(theirs[name].Microseconds())/1000, name+"-dovecot-ms")
					b.ReportMetric(float64(d)/float64(theirs[name]), name+"-ratio")
				}
			}
			b.StopTimer()
			// The first 200 connections' figure is blurred by the
			// workload's garbage, which the runtime hands back to the
			// system meanwhile (it came out negative at times); the
			// second 200 are measured in a steady state.
			pid := md.cmd.Process.Pid
			before := steadyRSSKB(b, pid)
			conns := idleConnections(b, md.addr, 200)
			first := steadyRSSKB(b, pid)
			conns = append(conns, idleConnections(b, md.addr, 200)...)
			second := steadyRSSKB(b, pid)
			for _, c := range conns {
				c.Close()
			}
			b.ReportMetric(float64(first-before)/1024, "idle200-first-MB")
			b.ReportMetric(float64(second-first)/1024, "idle200-added-MB")
			b.ReportMetric(float64(first)/1024, "rss-with-200-MB")
		})
	}
}

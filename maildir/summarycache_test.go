package maildir

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// testSummaries parses the test messages.
func testSummaries(t testing.TB) map[string]*Summary {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "summary", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test messages: %v", err)
	}
	out := map[string]*Summary{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = mustParse(t, toCRLF(raw))
	}
	return out
}

var cacheTime = time.Date(2024, 3, 5, 10, 0, 0, 123456789, time.UTC)

func cacheKey(name string) string { return "1709632800.M1P2." + name }

func fillCache(t *testing.T, c *summaryCache, sums map[string]*Summary) {
	t.Helper()
	for name, s := range sums {
		c.Put(cacheKey(name), int64(len(name)), cacheTime, s)
	}
}

func checkCacheHits(t *testing.T, c *summaryCache, sums map[string]*Summary) {
	t.Helper()
	for name, want := range sums {
		got, ok := c.Get(cacheKey(name), int64(len(name)), cacheTime)
		if !ok {
			t.Errorf("%s: miss", name)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
		si, ok := c.GetSubject(cacheKey(name), int64(len(name)), cacheTime)
		if wantSI := (SubjectInfo{want.Envelope.Subject, want.SubjectExact, want.HeaderSize}); !ok || si != wantSI {
			t.Errorf("%s: subject %+v %v, want %+v", name, si, ok, wantSI)
		}
	}
}

func TestSummaryCacheRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sums := testSummaries(t)
	c := openSummaryCache(dir)
	defer c.Close()
	if _, ok := c.Get("nothing", 1, cacheTime); ok {
		t.Fatal("hit in an empty cache")
	}
	fillCache(t, c, sums)
	checkCacheHits(t, c, sums) // from the pending records
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, summaryCacheName))
	if err != nil || !bytes.HasPrefix(data, []byte(summaryCacheHeader)) {
		t.Fatalf("cache file: %v %q", err, data[:min(len(data), 20)])
	}
	if len(c.pending) != 0 {
		t.Errorf("%d bytes still pending after Flush", len(c.pending))
	}
	checkCacheHits(t, c, sums) // from the file

	c2 := openSummaryCache(dir)
	defer c2.Close()
	checkCacheHits(t, c2, sums) // loaded afresh
}

func TestSummaryCacheStale(t *testing.T) {
	dir := t.TempDir()
	c := openSummaryCache(dir)
	defer c.Close()
	s := parseString(t, "Subject: x\n\nbody\n")
	c.Put("base", 100, cacheTime, s)
	if _, ok := c.Get("base", 101, cacheTime); ok {
		t.Error("hit with another size")
	}
	if _, ok := c.Get("base", 100, cacheTime.Add(time.Nanosecond)); ok {
		t.Error("hit with another mtime")
	}
	if _, ok := c.Get("base2", 100, cacheTime); ok {
		t.Error("hit for another name")
	}
	// A hash collision is a miss, not someone else's summary.
	c.index[hashBase("collides")] = c.index[hashBase("base")]
	if _, ok := c.Get("collides", 100, cacheTime); ok {
		t.Error("hit through a colliding hash")
	}
	// A newer Put replaces the entry.
	s2 := parseString(t, "Subject: y\n\nbody\n")
	c.Put("base", 200, cacheTime, s2)
	if got, ok := c.Get("base", 200, cacheTime); !ok || got.Envelope.Subject != "y" {
		t.Errorf("replaced entry: %v %v", got, ok)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	c2 := openSummaryCache(dir)
	defer c2.Close()
	if got, ok := c2.Get("base", 200, cacheTime); !ok || got.Envelope.Subject != "y" {
		t.Errorf("after reload: %v %v", got, ok)
	}
	if _, ok := c2.Get("base", 100, cacheTime); ok {
		t.Error("old entry still there")
	}
}

// cacheWithRecords writes n single-message records and returns the file
// path and each record's offset.
func cacheWithRecords(t *testing.T, dir string, n int) (string, []int64) {
	t.Helper()
	c := openSummaryCache(dir)
	defer c.Close()
	for i := 0; i < n; i++ {
		c.Put(fmt.Sprint("m", i), int64(i), cacheTime, parseString(t, fmt.Sprintf("Subject: %d\n\nbody\n", i)))
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	var offs []int64
	for i := 0; i < n; i++ {
		offs = append(offs, c.index[hashBase(fmt.Sprint("m", i))].off)
	}
	return c.path, offs
}

func cacheHits(c *summaryCache, n int) []bool {
	var hits []bool
	for i := 0; i < n; i++ {
		s, ok := c.Get(fmt.Sprint("m", i), int64(i), cacheTime)
		hits = append(hits, ok && s.Envelope.Subject == fmt.Sprint(i))
	}
	return hits
}

func TestSummaryCacheCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(data []byte, offs []int64) []byte
		want    []bool
		rewrite bool
	}{
		{"flipped byte", func(d []byte, offs []int64) []byte { d[offs[2]+20] ^= 0xff; return d },
			[]bool{true, true, false, false, false}, true},
		{"bad length", func(d []byte, offs []int64) []byte { d[offs[3]+3] = 0x7f; return d },
			[]bool{true, true, true, false, false}, true},
		{"torn append", func(d []byte, offs []int64) []byte { return d[:len(d)-5] },
			[]bool{true, true, true, true, false}, true},
		{"garbage after", func(d []byte, offs []int64) []byte { return append(d, "junk"...) },
			[]bool{true, true, true, true, true}, true},
		{"other version", func(d []byte, offs []int64) []byte { d[15] = '9'; return d },
			[]bool{false, false, false, false, false}, true},
		{"empty", func(d []byte, offs []int64) []byte { return nil },
			[]bool{false, false, false, false, false}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, offs := cacheWithRecords(t, dir, 5)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(data, offs), 0o600); err != nil {
				t.Fatal(err)
			}
			c := openSummaryCache(dir)
			defer c.Close()
			if got := cacheHits(c, 5); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("hits %v, want %v", got, tc.want)
			}
			// The next Flush rewrites a clean file, and what is Put again
			// is there for the next reader.
			for i, hit := range tc.want {
				if !hit {
					c.Put(fmt.Sprint("m", i), int64(i), cacheTime, parseString(t, fmt.Sprintf("Subject: %d\n\nbody\n", i)))
				}
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			c2 := openSummaryCache(dir)
			defer c2.Close()
			if got := cacheHits(c2, 5); !reflect.DeepEqual(got, []bool{true, true, true, true, true}) {
				t.Errorf("after rebuild: hits %v", got)
			}
			c2.load()
			if c2.dirty {
				t.Error("rebuilt file is not clean")
			}
		})
	}
}

func TestSummaryCacheCorruptReadLater(t *testing.T) {
	// Damage after loading: Get verifies the checksum again.
	dir := t.TempDir()
	path, offs := cacheWithRecords(t, dir, 3)
	c := openSummaryCache(dir)
	defer c.Close()
	c.load()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xee}, offs[1]+12)
	f.Close()
	if got := cacheHits(c, 3); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Errorf("hits %v", got)
	}
	if !c.dirty {
		t.Error("a bad record did not mark the file for rewriting")
	}
}

func TestSummaryCacheAppends(t *testing.T) {
	dir := t.TempDir()
	c := openSummaryCache(dir)
	defer c.Close()
	s := parseString(t, "Subject: x\n\nbody\n")
	c.Put("a", 1, cacheTime, s)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	st1, err := os.Stat(c.path)
	if err != nil {
		t.Fatal(err)
	}
	c.Put("b", 1, cacheTime, s)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(c.path)
	if !os.SameFile(st1, st2) || st2.Size() <= st1.Size() {
		t.Errorf("second Flush did not append (same file %v, sizes %d -> %d)", os.SameFile(st1, st2), st1.Size(), st2.Size())
	}
	// Flush with nothing new writes nothing.
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if st3, _ := os.Stat(c.path); !os.SameFile(st2, st3) || st3.Size() != st2.Size() {
		t.Error("empty Flush changed the file")
	}
}

func TestSummaryCachePendingBounded(t *testing.T) {
	dir := t.TempDir()
	c := openSummaryCache(dir)
	defer c.Close()
	sums := testSummaries(t)
	s := sums["nested.eml"]
	for i := 0; i < 2000; i++ {
		c.Put(fmt.Sprint("m", i), 1, cacheTime, s)
		if len(c.pending) > maxPendingCache+maxCacheRecord {
			t.Fatalf("%d bytes pending", len(c.pending))
		}
	}
	if _, err := os.Stat(c.path); err != nil {
		t.Fatalf("nothing written before Flush: %v", err)
	}
	for i := 0; i < 2000; i += 97 {
		if got, ok := c.Get(fmt.Sprint("m", i), 1, cacheTime); !ok || !reflect.DeepEqual(got, s) {
			t.Fatalf("m%d: %v", i, ok)
		}
	}
}

func TestSummaryCacheForget(t *testing.T) {
	dir := t.TempDir()
	c := openSummaryCache(dir)
	defer c.Close()
	s := parseString(t, "Subject: x\n\nbody\n")
	for _, b := range []string{"keep1", "gone1", "keep2"} {
		c.Put(b, 1, cacheTime, s)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	c.Put("gone2", 1, cacheTime, s) // pending
	c.Forget(func(base string) bool { return base[:4] == "keep" })
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(c.path)
	if bytes.Contains(data, []byte("gone")) || !bytes.Contains(data, []byte("keep2")) {
		t.Errorf("compacted file: %q", data)
	}
	c2 := openSummaryCache(dir)
	defer c2.Close()
	for b, want := range map[string]bool{"keep1": true, "keep2": true, "gone1": false, "gone2": false} {
		if _, ok := c2.Get(b, 1, cacheTime); ok != want {
			t.Errorf("%s: hit %v", b, ok)
		}
	}
}

func TestSummaryCacheCompactsGarbage(t *testing.T) {
	dir := t.TempDir()
	c := openSummaryCache(dir)
	defer c.Close()
	s := testSummaries(t)["nested.eml"]
	for i := 0; i < 2000; i++ {
		c.Put("same", int64(i), cacheTime, s)
		if i%50 == 0 {
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(c.path)
	if st.Size() > 2*cacheCompactMin {
		t.Errorf("file of one live entry is %d bytes", st.Size())
	}
	if _, ok := c.Get("same", 1999, cacheTime); !ok {
		t.Error("live entry lost")
	}
}

func TestSummaryCacheShared(t *testing.T) {
	dir := t.TempDir()
	s := parseString(t, "Subject: x\n\nbody\n")
	a, b := openSummaryCache(dir), openSummaryCache(dir)
	defer a.Close()
	defer b.Close()
	a.Put("a1", 1, cacheTime, s)
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	b.load()
	// Both append; each learns the other's records.
	a.Put("a2", 1, cacheTime, s)
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	b.Put("b1", 1, cacheTime, s)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("a2", 1, cacheTime); !ok {
		t.Error("b did not learn a's append")
	}
	// a replaces the file (compaction); b switches to it on its next Flush.
	a.Forget(func(string) bool { return true })
	a.dirty = true
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	b.Put("b2", 1, cacheTime, s)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	c := openSummaryCache(dir)
	defer c.Close()
	for _, k := range []string{"a1", "a2", "b1", "b2"} {
		if _, ok := c.Get(k, 1, cacheTime); !ok {
			t.Errorf("%s lost", k)
		}
	}
}

func TestSummaryCacheConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := parseString(t, "Subject: x\n\nbody\n")
	c := openSummaryCache(dir)
	defer c.Close()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := fmt.Sprint(g, "-", i)
				c.Put(k, 1, cacheTime, s)
				if _, ok := c.Get(k, 1, cacheTime); !ok {
					t.Errorf("%s: miss right after Put", k)
				}
				if i%37 == 0 {
					if err := c.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	c2 := openSummaryCache(dir)
	defer c2.Close()
	for g := 0; g < 4; g++ {
		for i := 0; i < 200; i++ {
			if _, ok := c2.Get(fmt.Sprint(g, "-", i), 1, cacheTime); !ok {
				t.Fatalf("%d-%d lost", g, i)
			}
		}
	}
}

func TestSummaryCacheUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	c := openSummaryCache(dir)
	defer c.Close()
	s := parseString(t, "Subject: x\n\nbody\n")
	c.Put("a", 1, cacheTime, s)
	if err := c.Flush(); err == nil {
		t.Fatal("Flush into a missing directory succeeded")
	}
	if _, ok := c.Get("a", 1, cacheTime); ok {
		t.Error("an unwritten record is still served")
	}
}

func TestSummaryDecoderBounds(t *testing.T) {
	// A record claiming a huge number of parts is refused without
	// allocating for them.
	e := sumEncoder{}
	e.envelope(&Envelope{})
	for i := 0; i < 13; i++ { // type .. location
		e.uvarint(0)
	}
	e.uvarint(1 << 40) // parts
	d := sumDecoder{s: string(e.b)}
	d.summary()
	if !d.bad {
		t.Error("huge part count accepted")
	}
	// Deep nesting is refused.
	var deep Summary
	p := &deep.Body
	for i := 0; i < 3*maxMIMEDepth; i++ {
		p.Parts = []BodyPart{{}}
		p = &p.Parts[0]
	}
	e = sumEncoder{}
	e.summary(&deep)
	d = sumDecoder{s: string(e.b)}
	d.summary()
	if !d.bad {
		t.Error("deep nesting accepted")
	}
	// Every truncation of a good record is refused, never a panic.
	e = sumEncoder{}
	e.summary(testSummaries(t)["nested.eml"])
	for n := 0; n < len(e.b); n++ {
		d := sumDecoder{s: string(e.b[:n])}
		d.summary()
		if !d.bad && d.s == "" {
			t.Fatalf("truncated at %d of %d: accepted", n, len(e.b))
		}
	}
}

func BenchmarkSummaryCacheGet(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	sums := testSummaries(b)
	var list []*Summary
	for _, s := range sums {
		list = append(list, s)
	}
	c := openSummaryCache(dir)
	for i := 0; i < n; i++ {
		c.Put(fmt.Sprint("1709632800.M", i, "P1.host,S=1000,W=1020"), 1000, cacheTime, list[i%len(list)])
	}
	if err := c.Flush(); err != nil {
		b.Fatal(err)
	}
	c.Close()
	c = openSummaryCache(dir)
	defer c.Close()
	c.load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := c.Get(fmt.Sprint("1709632800.M", i%n, "P1.host,S=1000,W=1020"), 1000, cacheTime); !ok {
			b.Fatal("miss")
		}
	}
	b.StopTimer()
	st, _ := os.Stat(c.path)
	b.ReportMetric(float64(st.Size())/n, "file-B/entry")
}

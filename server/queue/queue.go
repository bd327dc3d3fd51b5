package queue

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maildird/maildird/dnsresolv"
	"github.com/maildird/maildird/maildir"
)

// LocalStore delivers a bounce to a local sender; *maildir.Store is one.
type LocalStore interface {
	Deliver(addr, folder string, r io.Reader, maxSize int64) (maildir.DeliveryResult, error)
}

// Smarthost is the [delivery] smarthost: every remote message goes there.
type Smarthost struct {
	Addr     string // host:port; "" means direct delivery by MX lookup
	TLS      string // "auto" (465: implicit, else STARTTLS), "implicit" or "starttls"
	User     string // AUTH PLAIN or LOGIN when set
	Password string
}

// Options configures New.
type Options struct {
	Dir           string // <data_dir>/queue
	Hostname      string // EHLO name, Reporting-MTA of bounces
	IsLocalDomain func(domain string) bool
	// Local delivers bounces to local senders; Lookup resolves a local
	// sender to its mailboxes (an alias, user+tag); nil: the address itself.
	Local  LocalStore
	Lookup func(addr string) ([]string, error)
	DKIM   *DKIM // nil: nothing is signed

	Resolver  dnsresolv.Resolver
	Smarthost Smarthost
	// RootCAs verifies the smarthost (nil: the system roots, which honour
	// SSL_CERT_FILE); for direct delivery it only decides what is logged.
	RootCAs *x509.CertPool
	// Dial connects to a remote server (default: a net.Dialer); Port is
	// the port of direct delivery (default "25").
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	Port string

	// Retry is the wait after the n-th failed attempt (default: 1m, 5m,
	// 15m, 30m, 1h, then 2-4h); MaxAge ends the retries (default 5 days).
	Retry  func(n int) time.Duration
	MaxAge time.Duration
	// CommandTimeout bounds each SMTP reply (default 5 min), DataTimeout
	// the reply to the end of the message (default 10 min), RFC 5321
	// §4.5.3.2.
	CommandTimeout time.Duration
	DataTimeout    time.Duration
	Workers        int // deliveries at once (default 8)
	// BounceRetry spaces the tries of a bounce that could not be sent
	// (default 5 minutes); a day after MaxAge it is given up.
	BounceRetry time.Duration
	Rescan      time.Duration // how often the spool is re-read for CLI changes (default 2 s)

	Logger *slog.Logger
	Now    func() time.Time
}

// DefaultRetry is the retry schedule: about 1m, 5m, 15m, 30m, 1h, then
// every 2 to 4 hours.
func DefaultRetry(n int) time.Duration {
	steps := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}
	if n >= 1 && n <= len(steps) {
		return steps[n-1]
	}
	return 2*time.Hour + rand.N(2*time.Hour)
}

// Queue delivers the spooled messages: one worker per destination domain
// at a time, Workers in all.
type Queue struct {
	opts  Options
	spool *Spool
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}

	// Lock order: an item's mu before q.mu, never the other way.
	mu       sync.Mutex
	items    map[string]*item
	busy     map[string]bool // destination domain -> a delivery runs
	inflight map[string]int  // message ID -> deliveries running
	running  int
	flushes  atomic.Int64 // Flush calls so far
}

// item is one queued message in memory; env mirrors the envelope file.
type item struct {
	mu  sync.Mutex
	env *Envelope
	// bounceAfter holds off the next try of a bounce that failed (the
	// sender's Maildir unwritable, say), so it is not retried every pass.
	bounceAfter time.Time
}

// New opens the spool; Start begins delivering.
func New(opts Options) (*Queue, error) {
	if opts.Port == "" {
		opts.Port = "25"
	}
	if opts.Retry == nil {
		opts.Retry = DefaultRetry
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 5 * 24 * time.Hour
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 5 * time.Minute
	}
	if opts.DataTimeout <= 0 {
		opts.DataTimeout = 10 * time.Minute
	}
	if opts.BounceRetry <= 0 {
		opts.BounceRetry = 5 * time.Minute
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Rescan <= 0 {
		opts.Rescan = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IsLocalDomain == nil {
		opts.IsLocalDomain = func(string) bool { return false }
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second}
		opts.Dial = d.DialContext
	}
	if opts.Resolver == nil && opts.Smarthost.Addr == "" {
		return nil, errors.New("queue: direct delivery needs a resolver")
	}
	spool, err := OpenSpool(opts.Dir)
	if err != nil {
		return nil, err
	}
	q := &Queue{
		opts: opts, spool: spool, log: opts.Logger,
		wake: make(chan struct{}, 1), items: map[string]*item{},
		busy: map[string]bool{}, inflight: map[string]int{},
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	return q, nil
}

// Spool is the queue's directory.
func (q *Queue) Spool() *Spool { return q.spool }

// NewMessage starts a message from the envelope sender ("" for the null
// reverse-path) of at most maxSize bytes (0: no limit).
func (q *Queue) NewMessage(from string, maxSize int64, opts MessageOptions) (*Message, error) {
	m, err := q.spool.newMessage(from, maxSize, q.opts.Now())
	if err != nil {
		return nil, err
	}
	m.sign, m.dkim, m.onDone = opts.Sign, q.opts.DKIM, q.add
	return m, nil
}

// add takes a just-committed message into the schedule.
func (q *Queue) add(env *Envelope) {
	q.mu.Lock()
	if _, ok := q.items[env.ID]; !ok {
		q.items[env.ID] = &item{env: env}
	}
	q.mu.Unlock()
	q.kick()
}

func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Start loads the spool (a restart resumes every message) and delivers
// until Stop.
func (q *Queue) Start() error {
	if err := q.spool.Clean(q.opts.Now()); err != nil {
		q.log.Warn("queue: cleaning the spool", "err", err)
	}
	if err := q.rescan(); err != nil {
		return err
	}
	q.mu.Lock()
	n := len(q.items)
	q.mu.Unlock()
	q.log.Info("queue: started", "messages", n, "dir", q.spool.Dir(), "smarthost", q.opts.Smarthost.Addr)
	q.wg.Add(1)
	go q.loop()
	return nil
}

// Stop ends delivery: connections in flight are closed, their
// recipients stay queued for the next start.
func (q *Queue) Stop() {
	q.cancel()
	q.wg.Wait()
}

// Flush makes every pending recipient due now.
func (q *Queue) Flush() {
	q.flushes.Add(1) // a delivery running now retries at once too
	q.mu.Lock()
	items := q.snapshot()
	q.mu.Unlock()
	for _, it := range items {
		it.mu.Lock()
		for _, r := range it.env.Rcpts {
			if r.State == StatePending {
				r.Next = time.Time{}
			}
		}
		it.mu.Unlock()
	}
	q.kick()
}

func (q *Queue) snapshot() []*item {
	ids := make([]string, 0, len(q.items))
	for id := range q.items {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*item, len(ids))
	for i, id := range ids {
		out[i] = q.items[id]
	}
	return out
}

func (q *Queue) loop() {
	defer q.wg.Done()
	rescan := time.NewTicker(q.opts.Rescan)
	defer rescan.Stop()
	for {
		next := q.dispatch()
		wait := q.opts.Rescan
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(q.opts.Now()), time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-q.ctx.Done():
			timer.Stop()
			return
		case <-q.wake:
		case <-timer.C:
		case <-rescan.C:
			if err := q.rescan(); err != nil {
				q.log.Warn("queue: reading the spool", "err", err)
			}
			if q.spool.takeFlush() {
				q.log.Info("queue: flush requested")
				q.Flush()
			}
		}
		timer.Stop()
	}
}

// rescan brings the schedule in line with the spool: messages queued by
// another process (sendmail) come in, deleted ones (queue delete) go.
func (q *Queue) rescan() error {
	ids, err := q.spool.IDs()
	if err != nil {
		return err
	}
	onDisk := map[string]bool{}
	var errs []error
	for _, id := range ids {
		onDisk[id] = true
		q.mu.Lock()
		_, known := q.items[id]
		q.mu.Unlock()
		if known {
			continue
		}
		env, err := q.spool.ReadEnvelope(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		q.add(env)
	}
	q.mu.Lock()
	for id := range q.items {
		if !onDisk[id] && q.inflight[id] == 0 {
			delete(q.items, id)
		}
	}
	q.mu.Unlock()
	return errors.Join(errs...)
}

// dispatch starts a delivery for every (message, domain) with due
// recipients whose domain is not busy, up to Workers, and returns when
// the next recipient falls due (zero: none waiting).
func (q *Queue) dispatch() time.Time {
	q.mu.Lock()
	items := q.snapshot()
	q.mu.Unlock()
	now := q.opts.Now()
	var next time.Time
	for _, it := range items {
		it.mu.Lock()
		byDomain := map[string][]string{}
		var order []string
		for _, r := range it.env.Rcpts {
			if r.State != StatePending {
				continue
			}
			if r.Next.After(now) {
				if next.IsZero() || r.Next.Before(next) {
					next = r.Next
				}
				continue
			}
			d := r.Domain()
			if _, ok := byDomain[d]; !ok {
				order = append(order, d)
			}
			byDomain[d] = append(byDomain[d], r.Addr)
		}
		if len(order) == 0 && q.idle(it.env.ID) && !now.Before(it.bounceAfter) && (it.env.done() || hasUnreported(it.env)) {
			// Failures left unreported while other deliveries ran, or
			// loaded after a crash between a result and its bounce or
			// between the last result and the removal.
			q.settle(it, q.log.With("id", it.env.ID))
		}
		for _, d := range order {
			if !q.claim(it.env.ID, d) {
				continue
			}
			env := *it.env // the job's own copy of the fixed fields
			q.wg.Add(1)
			go q.job(it, env, d, byDomain[d])
		}
		it.mu.Unlock()
	}
	return next
}

// claim reserves a worker for domain; false when it is busy or all
// workers are.
func (q *Queue) claim(id, domain string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.busy[domain] || q.running >= q.opts.Workers || q.items[id] == nil {
		return false
	}
	q.busy[domain] = true
	q.inflight[id]++
	q.running++
	return true
}

func (q *Queue) release(id, domain string) {
	q.mu.Lock()
	delete(q.busy, domain)
	if q.inflight[id]--; q.inflight[id] <= 0 {
		delete(q.inflight, id)
	}
	q.running--
	q.mu.Unlock()
	q.kick()
}

// job delivers one message to one domain and records the results.
func (q *Queue) job(it *item, env Envelope, domain string, rcpts []string) {
	defer q.wg.Done()
	defer q.release(env.ID, domain)
	log := q.log.With("id", env.ID, "domain", domain)
	flushes := q.flushes.Load()
	results := q.deliverDomain(q.ctx, log, &env, domain, rcpts)
	q.record(it, log, results, q.flushes.Load() != flushes)
}

// record applies the results to the envelope, durably, then bounces the
// failures and removes a finished message.
func (q *Queue) record(it *item, log *slog.Logger, results map[string]result, flushed bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	now := q.opts.Now()
	deadline := it.env.Created.Add(q.opts.MaxAge)
	stopping := q.ctx.Err() != nil
	for _, r := range it.env.Rcpts {
		res, ok := results[r.Addr]
		if !ok || r.State != StatePending {
			continue
		}
		if !res.sent && !res.perm && stopping {
			continue // interrupted by shutdown: not an attempt
		}
		r.Attempts++
		r.Status, r.Reply, r.RemoteMTA = res.status, res.text, res.remote
		switch {
		case res.sent:
			r.State, r.Next = StateSent, time.Time{}
			log.Info("queue: delivered", "rcpt", r.Addr, "remote", res.remote, "reply", res.text)
		case res.perm:
			r.State, r.Next = StateFailed, time.Time{}
			log.Info("queue: delivery failed", "rcpt", r.Addr, "remote", res.remote, "status", res.status, "reply", res.text)
		case !now.Before(deadline):
			r.State, r.Next = StateFailed, time.Time{}
			r.Status, r.Reply = "4.4.7", fmt.Sprintf("delivery time expired after %d attempts; last: %s", r.Attempts, res.text)
			log.Info("queue: delivery expired", "rcpt", r.Addr, "attempts", r.Attempts, "reply", res.text)
		default:
			r.Next = now.Add(q.opts.Retry(r.Attempts))
			if flushed {
				r.Next = now
			}
			if r.Next.After(deadline) {
				r.Next = deadline
			}
			log.Info("queue: delivery deferred", "rcpt", r.Addr, "attempt", r.Attempts, "retry", r.Next.Format(time.RFC3339), "reply", res.text)
		}
	}
	if err := q.spool.updateEnvelope(it.env); err != nil {
		if errors.Is(err, errGone) {
			q.forget(it.env.ID)
			return
		}
		log.Error("queue: recording the delivery state", "err", err)
		return
	}
	q.mu.Lock()
	last := q.inflight[it.env.ID] <= 1
	q.mu.Unlock()
	if last {
		// Deliveries to other domains still running report their
		// failures with these in one DSN; dispatch settles otherwise.
		q.settle(it, log)
	}
}

// settle bounces the unreported failures and removes a finished message.
// The caller holds the item's lock.
func (q *Queue) settle(it *item, log *slog.Logger) {
	env := it.env
	if !q.bounceFailures(env, log) {
		it.bounceAfter = q.opts.Now().Add(q.opts.BounceRetry)
		return
	}
	if env.done() {
		if err := q.spool.Delete(env.ID); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				log.Error("queue: removing a finished message", "err", err)
			}
			return
		}
		q.forget(env.ID)
		log.Info("queue: message done")
	}
}

func (q *Queue) forget(id string) {
	q.mu.Lock()
	delete(q.items, id)
	q.mu.Unlock()
}

// bounceFailures sends one DSN for the failed recipients not yet
// reported, then marks them reported. A crash in between repeats the DSN
// at worst; it never loses it.
func (q *Queue) bounceFailures(env *Envelope, log *slog.Logger) bool {
	var failed []*Recipient
	for _, r := range env.Rcpts {
		if r.State == StateFailed && !r.Reported {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		return true
	}
	if err := q.bounce(env, failed); err != nil {
		if q.opts.Now().Before(env.Created.Add(q.opts.MaxAge + bounceMaxAge)) {
			log.Error("queue: sending the bounce; trying again later", "err", err)
			return false
		}
		log.Error("queue: giving up on the bounce", "err", err)
	}
	for _, r := range failed {
		r.Reported = true
	}
	if err := q.spool.updateEnvelope(env); err != nil && !errors.Is(err, errGone) {
		log.Error("queue: recording the bounce", "err", err)
	}
	return true
}

// bounceMaxAge is how long after MaxAge a bounce that cannot be sent is
// tried before it is given up (and logged).
const bounceMaxAge = 24 * time.Hour

func hasUnreported(env *Envelope) bool {
	for _, r := range env.Rcpts {
		if r.State == StateFailed && !r.Reported {
			return true
		}
	}
	return false
}

func (q *Queue) idle(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inflight[id] == 0
}

// Pending is, for tests and status, the recipients still to deliver.
func (q *Queue) Pending() int {
	q.mu.Lock()
	items := q.snapshot()
	q.mu.Unlock()
	n := 0
	for _, it := range items {
		it.mu.Lock()
		for _, r := range it.env.Rcpts {
			if r.State == StatePending {
				n++
			}
		}
		it.mu.Unlock()
	}
	return n
}

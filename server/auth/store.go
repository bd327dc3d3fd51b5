package auth

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const defaultReloadInterval = time.Second

// Options configures a Store.
type Options struct {
	Domains        []string      // local domains; AddUser/AddAlias refuse others with ErrNotLocalDomain when non-empty
	Logger         *slog.Logger  // nil: slog.Default()
	ReloadInterval time.Duration // 0: 1s
	BcryptCost     int           // 0: 10 (tests use bcrypt.MinCost)
}

// Alias is one line of the aliases file.
type Alias struct {
	Address string
	Targets []string
}

// Store holds the users and aliases of one data directory. Reads use a
// cache that is refreshed when the files change; writes go to disk at once.
// A Store is safe for concurrent use.
type Store struct {
	dataDir string
	domains map[string]bool
	log     *slog.Logger
	reload  time.Duration
	cost    int

	mu      sync.Mutex
	cache   snapshot
	checked time.Time // when the files were last stat'ed

	dummyOnce sync.Once
	dummyHash string // hashed at the store's cost; burns time for unknown users
}

// snapshot is one parsed state of both files. A snapshot is never modified
// after it is cached, so readers may use it without holding the lock.
type snapshot struct {
	passwd      *passwdFile
	aliases     *aliasFile
	passwdStamp fileStamp
	aliasStamp  fileStamp
}

// Open returns a Store for dataDir. It reads the files if they exist (and
// logs malformed lines) but creates nothing until the first write.
func Open(dataDir string, opts Options) (*Store, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("auth: empty data dir")
	}
	s := &Store{
		dataDir: dataDir,
		domains: make(map[string]bool),
		log:     opts.Logger,
		reload:  opts.ReloadInterval,
		cost:    opts.BcryptCost,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.reload <= 0 {
		s.reload = defaultReloadInterval
	}
	if s.cost == 0 {
		s.cost = defaultBcryptCost
	}
	if s.cost < bcrypt.MinCost || s.cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: bcrypt cost %d outside %d..%d", s.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	for _, d := range opts.Domains {
		n, err := Normalize("postmaster@" + d)
		if err != nil {
			return nil, fmt.Errorf("auth: local domain %q: %w", d, ErrBadAddress)
		}
		s.domains[domainOf(n)] = true
	}
	if _, err := s.current(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) passwdPath() string { return filepath.Join(s.dataDir, passwdName) }
func (s *Store) aliasPath() string  { return filepath.Join(s.dataDir, aliasName) }

// current returns the cached snapshot, re-reading a file when a stat (done
// at most every reload interval) shows that it changed.
func (s *Store) current() (snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache.passwd != nil && time.Since(s.checked) < s.reload {
		return s.cache, nil
	}
	next, err := s.refresh(s.cache)
	if err != nil && s.cache.passwd != nil {
		// A passing failure (say, a file briefly unreadable during a
		// hand edit) must not lock every user out: serve the last good
		// state and retry after the next interval.
		s.log.Error("auth: reloading users and aliases failed, using the previous state", "err", err)
		s.checked = time.Now()
		return s.cache, nil
	}
	if err != nil {
		return snapshot{}, err
	}
	s.cache, s.checked = next, time.Now()
	return next, nil
}

// refresh returns old with each file re-read whose stamp changed.
func (s *Store) refresh(old snapshot) (snapshot, error) {
	next := old
	ps, err := statStamp(s.passwdPath())
	if err != nil {
		return old, err
	}
	if old.passwd == nil || ps != old.passwdStamp {
		data, err := readOptional(s.passwdPath())
		if err != nil {
			return old, err
		}
		f, problems := parsePasswd(data)
		s.logProblems(s.passwdPath(), problems)
		next.passwd, next.passwdStamp = f, ps
	}
	as, err := statStamp(s.aliasPath())
	if err != nil {
		return old, err
	}
	if old.aliases == nil || as != old.aliasStamp {
		data, err := readOptional(s.aliasPath())
		if err != nil {
			return old, err
		}
		f, problems := parseAliases(data)
		s.logProblems(s.aliasPath(), problems)
		next.aliases, next.aliasStamp = f, as
	}
	return next, nil
}

func (s *Store) logProblems(path string, problems []lineProblem) {
	for _, p := range problems {
		s.log.Warn("auth: malformed line ignored (kept in the file)",
			"file", fmt.Sprintf("%s:%d", path, p.line), "reason", p.reason)
	}
}

// invalidate makes the next read stat the files, so a write by this Store
// is visible to its next read at once.
func (s *Store) invalidate() {
	s.mu.Lock()
	s.checked = time.Time{}
	s.mu.Unlock()
}

// localDomain reports whether domain is listed in Options.Domains, or, with
// none listed, true for every domain.
func (s *Store) localDomain(domain string) bool {
	return len(s.domains) == 0 || s.domains[domain]
}

// isLocalTarget reports whether an alias target belongs to this server, so
// that a target which is not a user is dropped rather than forwarded.
func (s *Store) isLocalTarget(snap snapshot, addr string) bool {
	d := domainOf(addr)
	if s.domains[d] {
		return true
	}
	for u := range snap.passwd.users {
		if domainOf(u) == d {
			return true
		}
	}
	for a := range snap.aliases.aliases {
		if domainOf(a) == d {
			return true
		}
	}
	return false
}

// Users returns every user address, sorted.
func (s *Store) Users() ([]string, error) {
	snap, err := s.current()
	if err != nil {
		return nil, err
	}
	users := snap.passwd.names()
	slices.Sort(users)
	return users, nil
}

// Aliases returns every alias, sorted by address.
func (s *Store) Aliases() ([]Alias, error) {
	snap, err := s.current()
	if err != nil {
		return nil, err
	}
	all := snap.aliases.all()
	slices.SortFunc(all, func(a, b Alias) int {
		switch {
		case a.Address < b.Address:
			return -1
		case a.Address > b.Address:
			return 1
		}
		return 0
	})
	return all, nil
}

package dnsresolv

import (
	"container/list"
	"sync"
	"time"
)

// cache keeps answers for a bounded time in bounded space: when full, the
// least recently used entry goes.
type cache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // front: most recently used; values are *cacheEntry
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key     string
	val     any
	err     error
	expires time.Time
}

func newCache(max int, ttl time.Duration, now func() time.Time) *cache {
	return &cache{max: max, ttl: ttl, now: now, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *cache) get(key string) (any, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.byKey, key)
		return nil, nil, false
	}
	c.order.MoveToFront(el)
	return e.val, e.err, true
}

func (c *cache) put(key string, val any, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &cacheEntry{key: key, val: val, err: err, expires: c.now().Add(c.ttl)}
	if el, ok := c.byKey[key]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

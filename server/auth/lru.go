package auth

import "container/list"

// lru is a map bounded to max entries that drops the least recently used
// entry when full, so an attacker cycling through addresses or user names
// cannot grow the throttle's memory. Not safe for concurrent use.
type lru[K comparable, V any] struct {
	max   int
	order *list.List // front: most recently used; elements hold *lruEntry
	index map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key   K
	value V
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), index: make(map[K]*list.Element)}
}

// get returns the value for key and marks it used.
func (c *lru[K, V]) get(key K) (V, bool) {
	e, ok := c.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).value, true
}

// put stores value under key, evicting the least recently used entry when
// the map is full.
func (c *lru[K, V]) put(key K, value V) {
	if e, ok := c.index[key]; ok {
		e.Value.(*lruEntry[K, V]).value = value
		c.order.MoveToFront(e)
		return
	}
	if c.order.Len() >= c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.index, oldest.Value.(*lruEntry[K, V]).key)
	}
	c.index[key] = c.order.PushFront(&lruEntry[K, V]{key: key, value: value})
}

func (c *lru[K, V]) remove(key K) {
	if e, ok := c.index[key]; ok {
		c.order.Remove(e)
		delete(c.index, key)
	}
}

func (c *lru[K, V]) len() int { return c.order.Len() }

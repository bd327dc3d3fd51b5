package auth

import "testing"

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := newLRU[string, int](2)
	c.put("a", 1)
	c.put("b", 2)
	if v, ok := c.get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("get(a) = %d, %v", v, ok)
	}
	c.put("c", 3) // evicts b
	if _, ok := c.get("b"); ok {
		t.Error("b survived; it was least recently used")
	}
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Errorf("a evicted: %d, %v", v, ok)
	}
	c.put("a", 10) // update in place, no eviction
	if v, _ := c.get("a"); v != 10 || c.len() != 2 {
		t.Errorf("update: a=%d len=%d", v, c.len())
	}
	c.remove("a")
	c.remove("missing")
	if _, ok := c.get("a"); ok || c.len() != 1 {
		t.Errorf("remove: len=%d", c.len())
	}
}

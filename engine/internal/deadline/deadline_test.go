package deadline

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSetPopsDueInOrderOnceAndHonoursReArmsAndRemovals(t *testing.T) {
	s := New[string, int]()
	if !s.Put("a", 30, 1) || s.Put("b", 40, 2) || !s.Put("c", 10, 3) {
		t.Fatal("Put's earliest report is wrong")
	}
	if !s.Put("b", 5, 20) { // re-armed earlier, with a new value
		t.Fatal("re-arming b first: earliest = false")
	}
	s.Remove("c")
	s.Remove("nope")
	if v, ok := s.Get("b"); !ok || v != 20 || s.Len() != 2 {
		t.Fatalf("Get(b) = %d, %v; Len = %d", v, ok, s.Len())
	}
	var popped []string
	next, ok := s.PopDue(29, func(k string, v int) { popped = append(popped, k) })
	if !slices.Equal(popped, []string{"b"}) || !ok || next != 30 {
		t.Fatalf("PopDue(29) = %v, next %d %v; want [b], next 30", popped, next, ok)
	}
	next, ok = s.PopDue(30, func(k string, v int) { popped = append(popped, k) })
	if !slices.Equal(popped, []string{"b", "a"}) || ok || next != 0 || s.Len() != 0 {
		t.Fatalf("PopDue(30) = %v, next %d %v, Len %d; want [b a], none left", popped, next, ok, s.Len())
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("a popped but still armed")
	}
}

// TestSetAgreesWithASortedModel: random puts, removals and pops against
// a map read in order.
func TestSetAgreesWithASortedModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := New[int, int]()
	model := map[int]int64{}
	now := int64(0)
	for step := range 20000 {
		key := r.IntN(200)
		switch op := r.IntN(10); {
		case op < 5:
			at := now + r.Int64N(1000)
			s.Put(key, at, step)
			model[key] = at
		case op < 7:
			s.Remove(key)
			delete(model, key)
		default:
			now += r.Int64N(100)
			var got []int
			s.PopDue(now, func(k, _ int) { got = append(got, k) })
			var want []int
			for k, at := range model {
				if at <= now {
					want = append(want, k)
					delete(model, k)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: popped %v, want %v", step, got, want)
			}
		}
		if s.Len() != len(model) {
			t.Fatalf("step %d: Len %d, want %d", step, s.Len(), len(model))
		}
	}
}

package placement

import (
	"slices"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	for _, tc := range []struct {
		name  string
		s     Snapshot
		want  Action
		evict []int
	}{
		{"idle sandbox of the version", Snapshot{Idle: 1, NeedMB: 128, UsedMB: 1024, BudgetMB: 1024}, UseIdle, nil},
		{"idle wins even with room to start", Snapshot{Idle: 3, NeedMB: 128, BudgetMB: 1024}, UseIdle, nil},
		{"room to start", Snapshot{NeedMB: 128, UsedMB: 512, BudgetMB: 1024}, Start, nil},
		{"exactly fits", Snapshot{NeedMB: 512, UsedMB: 512, BudgetMB: 1024}, Start, nil},
		{"bigger than the whole budget", Snapshot{NeedMB: 2048, BudgetMB: 1024,
			Evictable: []Candidate{{MemoryMB: 4096}}}, Throttle, nil},
		{"full, nothing idle", Snapshot{NeedMB: 128, UsedMB: 1024, BudgetMB: 1024}, Throttle, nil},
		{"full, idle ones too small: evict nothing", Snapshot{NeedMB: 512, UsedMB: 1024, BudgetMB: 1024,
			Evictable: []Candidate{{MemoryMB: 128, LastUsed: at(1)}, {MemoryMB: 128, LastUsed: at(0)}}}, Throttle, nil},
		{"evict the least recently used", Snapshot{NeedMB: 256, UsedMB: 1024, BudgetMB: 1024,
			Evictable: []Candidate{{MemoryMB: 512, LastUsed: at(5)}, {MemoryMB: 512, LastUsed: at(1)}, {MemoryMB: 512, LastUsed: at(3)}}},
			EvictThenStart, []int{1}},
		{"evict several, oldest first, no more than needed", Snapshot{NeedMB: 300, UsedMB: 1000, BudgetMB: 1024,
			Evictable: []Candidate{{MemoryMB: 128, LastUsed: at(9)}, {MemoryMB: 128, LastUsed: at(2)}, {MemoryMB: 128, LastUsed: at(4)}, {MemoryMB: 128, LastUsed: at(7)}}},
			EvictThenStart, []int{1, 2, 3}},
		{"partly free budget needs less eviction", Snapshot{NeedMB: 256, UsedMB: 896, BudgetMB: 1024,
			Evictable: []Candidate{{MemoryMB: 128, LastUsed: at(2)}, {MemoryMB: 128, LastUsed: at(1)}}},
			EvictThenStart, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.s)
			if d.Action != tc.want || !slices.Equal(d.Evict, tc.evict) {
				t.Fatalf("Decide = %v evict %v; want %v evict %v", d.Action, d.Evict, tc.want, tc.evict)
			}
		})
	}
}

// TestDecideWarmAllocatesNothing: the warm path's decision is free.
func TestDecideWarmAllocatesNothing(t *testing.T) {
	s := Snapshot{Idle: 1, NeedMB: 128, BudgetMB: 1024}
	if n := testing.AllocsPerRun(100, func() { Decide(s) }); n != 0 {
		t.Fatalf("Decide with an idle sandbox allocates %v times", n)
	}
	s = Snapshot{NeedMB: 128, BudgetMB: 1024}
	if n := testing.AllocsPerRun(100, func() { Decide(s) }); n != 0 {
		t.Fatalf("Decide to start allocates %v times", n)
	}
}

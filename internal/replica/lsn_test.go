package replica

import (
	"sync"
	"testing"
	"time"
)

func TestParseLSN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want LSN
		ok   bool
	}{
		{"0/1", 1, true},
		{"16/B374D848", 0x16_B374D848, true},
		{"16/b374d848", 0x16_B374D848, true},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, true},
		{"0/0", 0, false}, // no change commits at the start of the log
		{"", 0, false},
		{"16", 0, false},
		{"16/", 0, false},
		{"/1", 0, false},
		{"1/2/3", 0, false},
		{"+1/2", 0, false},
		{"1/_2", 0, false},
		{"100000000/0", 0, false},
		{" 1/2", 0, false},
		{"G/1", 0, false},
	} {
		got, err := ParseLSN(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLSN(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseLSN(f *testing.F) {
	for _, s := range []string{"0/1", "16/B374D848", "FFFFFFFF/FFFFFFFF", "0/0", "1/2/3", "+1/2", "ff/ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLSN(s)
		if err != nil {
			return
		}
		if l == 0 {
			t.Fatalf("%q read as zero", s)
		}
		// What reads is what String writes, up to case and leading zeros.
		back, err := ParseLSN(l.String())
		if err != nil || back != l {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, l, l.String(), back, err)
		}
	})
}

// TestLag pins how far behind a replica is taken to be: the time since the primary first had a
// position the replica has not replayed.
func TestLag(t *testing.T) {
	s := newSet(nil, Options{})
	t0 := time.Unix(1000, 0)
	s.sample(t0, 100)
	s.sample(t0.Add(100*time.Millisecond), 100) // an idle primary: the position first seen counts
	s.sample(t0.Add(200*time.Millisecond), 300)
	s.sample(t0.Add(300*time.Millisecond), 500)
	now := t0.Add(time.Second)
	for _, tc := range []struct {
		replayed LSN
		want     time.Duration
	}{
		{500, 0},
		{900, 0},
		{499, 700 * time.Millisecond},
		{300, 700 * time.Millisecond},
		{299, 800 * time.Millisecond},
		{99, time.Second},
	} {
		if got := s.lagOf(tc.replayed, now); got != tc.want {
			t.Errorf("replayed %d: lag %v, want %v", tc.replayed, got, tc.want)
		}
	}
	if len(s.samples) != 3 {
		t.Fatalf("kept %d samples; an unchanged position is not a new sample", len(s.samples))
	}
	s.add("replica0", nil, nil)
	s.nodes[0].up.Store(true)
	s.nodes[0].replayed.See(300)
	s.prune()
	if len(s.samples) != 1 || s.samples[0].lsn != 500 {
		t.Fatalf("after pruning what the replica has replayed: %v", s.samples)
	}
}

// TestFurthestNeverStepsBack: positions seen out of order, concurrently, leave the furthest.
func TestFurthestNeverStepsBack(t *testing.T) {
	var f Furthest
	if f.Load() != 0 {
		t.Fatalf("zero value holds %v", f.Load())
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { f.See(LSN(1000 - i)) })
	}
	wg.Wait()
	f.See(5)
	if got := f.Load(); got != 1000 {
		t.Errorf("holds %v, want %v", got, LSN(1000))
	}
}

package engine

import (
	"strconv"
	"testing"
)

// TestIDFilterFalsePositivesStayBoundedAsItGrows grows a filter through six
// blooms and checks that ids never added are reported "maybe" at most 2%
// of the time: the blooms' rates add up, so each must be tighter than the
// last. With six equal blooms of 10 bits per id the rate was ~5%.
func TestIDFilterFalsePositivesStayBoundedAsItGrows(t *testing.T) {
	const first = 1 << 12
	f := newIDFilterOf(first)
	added := first * (1<<6 - 1) // fills blooms of first, 2×first, ... 32×first
	for i := range added {
		f.addHash(f.hash("ch_added_" + strconv.Itoa(i)))
	}
	if blooms := len(*f.filters.Load()); blooms < 6 {
		t.Fatalf("%d blooms after %d ids, want at least 6", blooms, added)
	}
	for i := range added {
		if !f.mayContain(f.hash("ch_added_" + strconv.Itoa(i))) {
			t.Fatalf("id %d was added but the filter says no", i)
		}
	}
	const probes = 200_000
	positives := 0
	for i := range probes {
		if f.mayContain(f.hash("ch_fresh_" + strconv.Itoa(i))) {
			positives++
		}
	}
	if rate := float64(positives) / probes; rate > 0.02 {
		t.Errorf("false positive rate %.4f over %d fresh ids, want at most 0.02", rate, probes)
	} else {
		t.Logf("false positive rate %.4f over %d fresh ids", rate, probes)
	}
}

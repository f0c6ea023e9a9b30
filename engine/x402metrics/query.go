package x402metrics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollway/tollway/engine/usage"
)

// NetworkTotals are the totals of one network.
type NetworkTotals struct {
	Network string
	Totals
}

// Bucket is one UTC day or calendar month starting at Start, with the
// totals of each network that has any, in network order.
type Bucket struct {
	Start    time.Time
	Networks []NetworkTotals
}

// cells accumulate a query's totals by day and network.
type cells map[usage.Day]map[string]*Totals

func (c cells) add(day usage.Day, network string, t Totals) error {
	byNetwork := c[day]
	if byNetwork == nil {
		byNetwork = make(map[string]*Totals)
		c[day] = byNetwork
	}
	sum := byNetwork[network]
	if sum == nil {
		sum = &Totals{}
		byNetwork[network] = sum
	}
	return sum.Add(t)
}

// errStop ends a scan at the end of a query's range.
var errStop = errors.New("stop")

// Days returns owner's totals on each day from..to (inclusive) that has
// any, in day order, on network only unless it is "": the folded totals
// plus the deltas not folded yet.
func (m *Metrics) Days(owner string, from, to usage.Day, network string) ([]Bucket, error) {
	if !validPart(owner) {
		return nil, nil // no such owner has rows
	}
	m.folding.RLock()
	defer m.folding.RUnlock()
	found := make(cells)
	prefix := dayPrefix + owner + "/"
	err := m.engine.ScanRowsFrom([]byte(prefix), []byte(prefix+dateOf(from)), func(key, value []byte) error {
		day, net, err := parseDayRowKey(key, prefix)
		switch {
		case err != nil:
			return err
		case day > to:
			return errStop
		case day < from || (network != "" && net != network):
			return nil
		}
		t, err := decodeTotals(key, value)
		if err != nil {
			return err
		}
		return found.add(day, net, t)
	})
	if err == nil || errors.Is(err, errStop) {
		err = m.addDeltas(found, owner, from, to, network)
	}
	if err != nil && !errors.Is(err, errStop) {
		return nil, m.queryError(owner, err)
	}
	return found.buckets(), nil
}

// addDeltas adds owner's deltas of from..to (network only unless "") to
// found. REQUIRES: m.folding held for reading.
func (m *Metrics) addDeltas(found cells, owner string, from, to usage.Day, network string) error {
	if m.hook != nil {
		m.hook("between-scans")
	}
	prefix := deltaPrefix + owner + "/"
	read := 0
	return m.engine.ScanRowsFrom([]byte(prefix), []byte(prefix+dateOf(from)), func(key, value []byte) error {
		k, _, amount, err := parseDelta(key, value)
		switch {
		case err != nil:
			return err
		case k.day > to:
			return errStop
		case k.day < from || (network != "" && k.network != network):
			return nil
		}
		if read++; read > QueryDeltasMax {
			return fmt.Errorf("%w: more than %d deltas not folded yet", ErrUnavailable, QueryDeltasMax)
		}
		var t Totals
		if err := t.tally(k.kind).add(1, amount); err != nil {
			return err
		}
		return found.add(k.day, k.network, t)
	})
}

// queryError wraps a query's error; an engine that cannot scan is
// ErrUnavailable.
func (m *Metrics) queryError(owner string, err error) error {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("x402metrics: read %s: %w", owner, err)
	}
	return fmt.Errorf("x402metrics: read %s: %w: %v", owner, ErrUnavailable, err)
}

// buckets returns the days found, in day order, each with its networks in
// network order.
func (c cells) buckets() []Bucket {
	days := make([]usage.Day, 0, len(c))
	for day := range c {
		days = append(days, day)
	}
	slices.Sort(days)
	out := make([]Bucket, len(days))
	for i, day := range days {
		out[i] = Bucket{Start: day.Time(), Networks: sortedNetworks(c[day])}
	}
	return out
}

func sortedNetworks(byNetwork map[string]*Totals) []NetworkTotals {
	out := make([]NetworkTotals, 0, len(byNetwork))
	for network, t := range byNetwork {
		t.normalize()
		out = append(out, NetworkTotals{Network: network, Totals: *t})
	}
	slices.SortFunc(out, func(a, b NetworkTotals) int { return strings.Compare(a.Network, b.Network) })
	return out
}

// Summary returns owner's all-time totals per network (network only
// unless ""), in network order.
func (m *Metrics) Summary(owner, network string) ([]NetworkTotals, error) {
	if !validPart(owner) {
		return []NetworkTotals{}, nil
	}
	m.folding.RLock()
	defer m.folding.RUnlock()
	byNetwork := make(map[string]*Totals)
	add := func(net string, t Totals) error {
		if byNetwork[net] == nil {
			byNetwork[net] = &Totals{}
		}
		return byNetwork[net].Add(t)
	}
	prefix := allPrefix + owner + "/"
	err := m.engine.ScanRows([]byte(prefix), func(key, value []byte) error {
		net := strings.TrimPrefix(string(key), prefix)
		if network != "" && net != network {
			return nil
		}
		t, err := decodeTotals(key, value)
		if err != nil {
			return err
		}
		return add(net, t)
	})
	if err == nil {
		// All days: a range no delta is outside of.
		found := make(cells)
		err = m.addDeltas(found, owner, usage.DayOf(time.Time{}), usage.DayOf(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)), network)
		for _, day := range found {
			for net, t := range day {
				if err == nil {
					err = add(net, *t)
				}
			}
		}
	}
	if err != nil {
		return nil, m.queryError(owner, err)
	}
	return sortedNetworks(byNetwork), nil
}

// ByMonth merges day buckets, in day order, into calendar months (UTC).
func ByMonth(days []Bucket) ([]Bucket, error) {
	var months []Bucket
	var sums cells
	var starts []time.Time
	for _, day := range days {
		year, month, _ := day.Start.Date()
		start := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
		if len(starts) == 0 || !starts[len(starts)-1].Equal(start) {
			starts = append(starts, start)
		}
		if sums == nil {
			sums = make(cells)
		}
		for _, n := range day.Networks {
			if err := sums.add(usage.DayOf(start), n.Network, n.Totals); err != nil {
				return nil, err
			}
		}
	}
	for _, start := range starts {
		months = append(months, Bucket{Start: start, Networks: sortedNetworks(sums[usage.DayOf(start)])})
	}
	return months, nil
}

// Sum returns the totals of buckets per network, in network order.
func Sum(buckets []Bucket) ([]NetworkTotals, error) {
	byNetwork := make(map[string]*Totals)
	for _, b := range buckets {
		for _, n := range b.Networks {
			if byNetwork[n.Network] == nil {
				byNetwork[n.Network] = &Totals{}
			}
			if err := byNetwork[n.Network].Add(n.Totals); err != nil {
				return nil, err
			}
		}
	}
	return sortedNetworks(byNetwork), nil
}

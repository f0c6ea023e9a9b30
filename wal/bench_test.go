package wal

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	// benchmarkAppenders is the number of concurrent appenders, each with one
	// append in flight (it waits for its acknowledgement, as an engine
	// caller waits for its reply).
	benchmarkAppenders = 1024
	// benchmarkRecordBytes is about the size of one encoded ledger event.
	benchmarkRecordBytes = 128
	// benchmarkKeyBytes is the size of an index key: 32 hex digits.
	benchmarkKeyBytes = 32
)

// benchmarkIndexOf is the benchmark's Options.IndexOf: the key is the
// record's first benchmarkKeyBytes (an indexed benchmark writes them).
func benchmarkIndexOf(record []byte, dst []Put) []Put {
	if len(record) < benchmarkKeyBytes || record[0] == 0 {
		return dst // a record of the unindexed benchmark
	}
	return append(dst, Put{Key: record[:benchmarkKeyBytes], Value: record})
}

// BenchmarkAppend measures acknowledged appends per second on a real
// directory (real fsyncs), with benchmarkAppenders appenders.
func BenchmarkAppend(b *testing.B) {
	b.Run("record", func(b *testing.B) { benchmarkAppend(b, false) })
	b.Run("indexed", func(b *testing.B) { benchmarkAppend(b, true) })
}

// benchmarkToken is the Token of a benchmark entry.
type benchmarkToken struct {
	acks chan error
}

func benchmarkAppend(b *testing.B, indexed bool) {
	var commits atomic.Int64
	l, err := Open(b.TempDir(), Options{
		FS:      vfs.Default,
		Logger:  discardLogger,
		IndexOf: benchmarkIndexOf,
		OnDurable: func(entries []*Entry, first uint64, err error) {
			commits.Add(1)
			for _, entry := range entries {
				entry.Token.(*benchmarkToken).acks <- err
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchmarkAppenders + procs - 1) / procs)
	var (
		latencyMutex sync.Mutex
		latencies    []time.Duration
		appender     atomic.Int64
	)
	b.ReportAllocs()
	b.ResetTimer()
	cpuBefore := processCPU(b)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		random := rand.New(rand.NewPCG(uint64(appender.Add(1)), 0))
		token := &benchmarkToken{acks: make(chan error, 1)}
		entry := &Entry{Record: make([]byte, benchmarkRecordBytes), Token: token}
		var key []byte
		if indexed {
			entry.Index = make([]Put, 1)
		}
		samples := make([]time.Duration, 0, 1024)
		for pb.Next() {
			if indexed {
				// A random transfer id, as clients send, at the start of
				// the record (benchmarkIndexOf finds it there).
				key = fmt.Appendf(key[:0], "%016x%016x", random.Uint64(), random.Uint64())
				copy(entry.Record, key)
				entry.Index[0] = Put{Key: entry.Record[:benchmarkKeyBytes], Value: entry.Record}
			}
			began := time.Now()
			l.Append(entry)
			if err := <-token.acks; err != nil {
				b.Error(err)
				return
			}
			samples = append(samples, time.Since(began))
		}
		latencyMutex.Lock()
		latencies = append(latencies, samples...)
		latencyMutex.Unlock()
	})
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpuBefore
	b.StopTimer()
	slices.Sort(latencies)
	percentile := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(float64(len(latencies)-1)*p)].Microseconds())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	b.ReportMetric(float64(b.N)/float64(max(commits.Load(), 1)), "entries/commit")
	b.ReportMetric(percentile(0.50), "p50-µs")
	b.ReportMetric(percentile(0.99), "p99-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/append")
	b.Logf("machine: %s/%s, %d CPUs, GOMAXPROCS %d, %d appenders, %d-byte records, BatchEntriesMax %d",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), procs, benchmarkAppenders,
		benchmarkRecordBytes, batchEntriesDefault)
}

// processCPU returns the CPU time (user and system) of this process so far:
// the log's goroutines, Pebble's and the appenders'.
func processCPU(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// BenchmarkGet measures Get of index keys present (a client's retry) and
// absent (an id filter's false positive), on a log of benchmarkGetKeys
// indexed appends whose index spans several tables of level 0.
func BenchmarkGet(b *testing.B) {
	const benchmarkGetKeys = 400_000
	l, err := Open(b.TempDir(), Options{
		FS:        vfs.Default,
		Logger:    discardLogger,
		IndexOf:   benchmarkIndexOf,
		OnDurable: func(entries []*Entry, first uint64, err error) {},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	random := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, benchmarkGetKeys)
	entries := make([]*Entry, 0, 1024)
	for i := range keys {
		record := make([]byte, benchmarkRecordBytes)
		copy(record, fmt.Appendf(nil, "%016x%016x", random.Uint64(), random.Uint64()))
		keys[i] = record[:benchmarkKeyBytes]
		entries = append(entries, &Entry{Record: record, Index: []Put{{Key: keys[i], Value: record}}})
		if len(entries) == cap(entries) || i == len(keys)-1 {
			l.AppendBatch(entries)
			entries = entries[:0]
		}
	}
	for l.Durable() < benchmarkGetKeys {
		<-l.Notify()
	}
	b.Logf("index level 0: %d tables", l.index.Metrics().Levels[0].TablesCount)
	for _, present := range []bool{true, false} {
		b.Run(fmt.Sprintf("present=%v", present), func(b *testing.B) {
			b.ReportAllocs()
			absent := []byte("absent-0000000000000000000000000")
			i := 0
			for b.Loop() {
				key := keys[i%len(keys)]
				if !present {
					absent[len(absent)-1] = byte(i)
					key = absent
				}
				i += 7919
				if _, err := l.Get(key); err != nil && present {
					b.Fatal(err)
				}
			}
		})
	}
}

package bench

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestParseStatusMemoryReadsRSSAndPeak(t *testing.T) {
	const status = "Name:\ttollway\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\n" +
		"VmPeak:\t 2245360 kB\nVmSize:\t 2245360 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n" +
		"VmHWM:\t  183204 kB\nVmRSS:\t  151612 kB\nRssAnon:\t  120000 kB\nThreads:\t9\n"
	got, err := parseStatusMemory([]byte(status))
	if err != nil {
		t.Fatalf("parseStatusMemory = %v", err)
	}
	if want := (Memory{RSS: 151612 << 10, Peak: 183204 << 10}); got != want {
		t.Errorf("parseStatusMemory = %+v, want %+v", got, want)
	}
	// A zombie or a kernel thread has no Vm lines: no memory, no error.
	zombie := "Name:\tpostgres\nState:\tZ (zombie)\nTgid:\t77\nThreads:\t1\n"
	if got, err := parseStatusMemory([]byte(zombie)); err != nil || got != (Memory{}) {
		t.Errorf("parseStatusMemory(zombie) = %+v, %v; want zero, nil", got, err)
	}
	for _, bad := range []string{"VmRSS:\t lots kB\n", "VmHWM:\t 12\n", "VmRSS:\t 12 MB\n", "VmRSS:\t -3 kB\n", "VmHWM:\t 99999999999999999 kB\n"} {
		if got, err := parseStatusMemory([]byte(bad)); err == nil {
			t.Errorf("parseStatusMemory(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestProcessMemorySumsTheTreeAndFailsOnceExited(t *testing.T) {
	process, err := StartProcess(ProcessConfig{
		Name: "sh", Path: "/bin/sh", Args: []string{"-c", "sleep 60 & wait"},
		LogPath: t.TempDir() + "/sh.log",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer process.Stop()
	// Wait for the child: the tree is the shell and sleep.
	for range 500 {
		if tree, err := process.tree(); err != nil || len(tree) >= 2 {
			break
		}
		time.Sleep(pollInterval)
	}
	tree, err := process.tree()
	if err != nil || len(tree) < 2 {
		t.Fatalf("tree() = %v, %v; want the shell and its child", tree, err)
	}
	var want Memory
	for _, pid := range tree {
		one, _, err := treeMemory([]int{pid}, false)
		if err != nil {
			t.Fatal(err)
		}
		want.RSS += one.RSS
		if one.RSS <= 0 {
			t.Errorf("process %d: RSS %d, want some", pid, one.RSS)
		}
	}
	got, peakReset, err := process.Memory(true)
	if err != nil {
		t.Fatalf("Memory(true) = %v", err)
	}
	// Two idle processes: their memory does not move between the readings.
	if got.RSS != want.RSS || got.Peak < got.RSS || !peakReset {
		t.Errorf("Memory(true) = %+v, reset %v; want RSS %d (the sum of the tree), a peak at least that, reset", got, peakReset, want.RSS)
	}
	if got, peakReset, err := process.Memory(false); err != nil || got.Peak < got.RSS || got.RSS <= 0 || peakReset {
		t.Errorf("Memory(false) = %+v, reset %v, %v; want memory, no reset", got, peakReset, err)
	}
	if err := process.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := process.Memory(false); err == nil {
		t.Error("Memory after Stop = nil error, want one")
	}
}

// The peak keeps memory given back, until it is reset. The memory is mapped
// outside the Go heap, so the garbage collector does not move the figures.
func TestProcessMemoryPeakHoldsUntilReset(t *testing.T) {
	const size = 64 << 20
	const slack = 16 << 20 // what the rest of the test binary may allocate or free meanwhile
	start, peakReset, err := ProcessMemory(true)
	if err != nil {
		t.Fatalf("ProcessMemory(true) = %v", err)
	}
	if !peakReset {
		t.Skip("the kernel refused to reset this process's peak (/proc/self/clear_refs)")
	}
	region, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < size; i += os.Getpagesize() {
		region[i] = 1
	}
	touched, _, err := ProcessMemory(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Munmap(region); err != nil {
		t.Fatal(err)
	}
	released, _, err := ProcessMemory(false)
	if err != nil {
		t.Fatal(err)
	}
	if touched.RSS < start.RSS+size-slack || released.RSS > touched.RSS-size+slack {
		t.Fatalf("RSS %d, %d after touching 64 MiB, %d after unmapping it; want it to rise and fall by 64 MiB",
			start.RSS, touched.RSS, released.RSS)
	}
	// The kernel's RSS counters are per CPU and read approximately: the
	// peak may trail the RSS it saw by a little.
	if released.Peak < touched.RSS-slack {
		t.Errorf("peak %d after unmapping, want at least the RSS while mapped, %d", released.Peak, touched.RSS)
	}
	if _, _, err := ProcessMemory(true); err != nil {
		t.Fatal(err)
	}
	after, _, err := ProcessMemory(false)
	if err != nil {
		t.Fatal(err)
	}
	if after.Peak > touched.RSS-size+slack {
		t.Errorf("peak %d after reset, want about the RSS since (%d), not the %d of before", after.Peak, after.RSS, touched.RSS)
	}
}

func TestTreeMemorySkipsDescendantsThatExited(t *testing.T) {
	// A pid no process has: the kernel's limit is below 2^22 by default.
	const gone = 1<<31 - 1
	got, _, err := treeMemory([]int{os.Getpid(), gone}, false)
	if err != nil || got.RSS <= 0 {
		t.Errorf("treeMemory(self, gone) = %+v, %v; want this process's memory", got, err)
	}
	if _, _, err := treeMemory([]int{gone}, false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("treeMemory(gone) = %v, want %v", err, os.ErrNotExist)
	}
}

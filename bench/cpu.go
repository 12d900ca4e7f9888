package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CPU accounting: the ratio says how much slower the API is than pgbench; CPU time per request
// says which process the difference goes to. On two shared cores the processes take turns, so
// microseconds of CPU per request, not wall time, is what adds up.

// clockTick is Linux's USER_HZ, the unit of the times in /proc/<pid>/stat.
const clockTick = 10 * time.Millisecond

// cpuSplit is CPU time per request (or transaction), in microseconds, by process.
type cpuSplit struct {
	Server, Postgres, Client float64
}

func (c cpuSplit) total() float64 { return c.Server + c.Postgres + c.Client }

// meter reads the CPU time of the local PostgreSQL cluster and of the processes the run starts.
// It measures nothing (ok false) when PostgreSQL is not a local process it can see in /proc.
type meter struct {
	postmaster int
}

// newMeter finds the cluster's postmaster: the parent of the backend serving a connection.
func newMeter(ctx context.Context, dbURL string) meter {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return meter{}
	}
	defer conn.Close(ctx)
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return meter{}
	}
	// The pid is PostgreSQL's view; in another PID namespace or on another host it names some
	// unrelated local process, or none.
	st, ok := readStat(backend)
	if !ok || st.comm != "postgres" {
		return meter{}
	}
	if pm, ok := readStat(st.ppid); !ok || pm.comm != "postgres" {
		return meter{}
	}
	return meter{postmaster: st.ppid}
}

func (m meter) ok() bool { return m.postmaster > 0 }

// postgres is the CPU time of the whole cluster so far: the postmaster, the backends it has
// reaped (their time moves into its children's time when they exit, in clock ticks: the
// pgbench side, whose backends exit before the second reading, sums ticks of 10 ms over its
// backends, precise enough over seconds of work each) and those still running.
func (m meter) postgres() time.Duration {
	if !m.ok() {
		return 0
	}
	pm, ok := readStat(m.postmaster)
	if !ok {
		return 0
	}
	self, _ := onCPU(m.postmaster)
	total := self + pm.children
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.ppid == m.postmaster {
			t, _ := onCPU(pid)
			total += t
		}
	}
	return total
}

// onCPU is the CPU time of one process so far, ok false once it is gone: the time its live
// threads have spent on a CPU, to the nanosecond (/proc/<pid>/task/<tid>/schedstat). The clock
// ticks of /proc/<pid>/stat are too coarse for a short window: a process that ran for 9 ms of a
// one-second window reads as zero there. A kernel without schedstat gets the ticks all the same.
// (Processes that exit in the window, like pgbench's backends, are only counted by their
// parent's ticks: see postgres.)
func onCPU(pid int) (time.Duration, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var total time.Duration
	read := 0
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited since the listing, or there is no schedstat
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		total += time.Duration(ns)
		read++
	}
	if read == 0 {
		st, ok := readStat(pid)
		return st.self, ok
	}
	return total, true
}

type procStat struct {
	comm           string
	ppid           int
	self, children time.Duration
}

// readStat parses /proc/<pid>/stat: the command, ppid, utime+stime and cutime+cstime (the time
// of reaped children, which is only kept there), in clock ticks.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, false
	}
	// The command name is in parentheses and may hold spaces; the fields after it start at state.
	open, i := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
	if open < 0 || i < open {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	ticks := func(ks ...int) time.Duration {
		var t int64
		for _, k := range ks {
			t += n(k)
		}
		return time.Duration(t) * clockTick
	}
	return procStat{comm: string(b[open+1 : i]), ppid: int(n(1)), self: ticks(11, 12), children: ticks(13, 14)}, true
}

// perOp turns CPU times over a window into microseconds per operation.
func perOp(d time.Duration, ops float64) float64 {
	if ops <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / ops
}

func (c cpuSplit) String() string {
	return fmt.Sprintf("server %.0f µs, PostgreSQL %.0f µs, client %.0f µs", c.Server, c.Postgres, c.Client)
}

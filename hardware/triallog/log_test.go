package triallog

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// bigThrow is a throw of n ticks with seeded values (about 250 bytes a tick).
func bigThrow(seq uint32, n int, rng *rand.Rand) Throw {
	th := Throw{Version: Version, Source: "test", Controller: "hold", Clock: "wall", PeriodNS: 4e6,
		Joints: []string{"a", "b", "c"}, Seq: seq, Complete: true}
	for i := 0; i < n; i++ {
		q := []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		th.Ticks = append(th.Ticks, Tick{NowNS: int64(i) * 4e6, StateOK: true, Q: q, Qd: q, CmdQ: q, CmdQd: q})
	}
	return th
}

// crashTicks sizes each line of the crash test (about 250 bytes a tick), so
// a line takes several write(2) calls' worth of buffer.
const crashTicks = 400

// TestCrashChild is the writer process TestCrashSafe kills; it does nothing
// unless started by it.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("TRIALLOG_CRASH_CHILD")
	if path == "" {
		return
	}
	w, err := Open(path, Options{NoSync: true})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 7))
	// Bounded, so an orphaned child cannot fill the disk: the parent kills
	// it long before this many lines.
	for seq := uint32(0); seq < 2000; seq++ {
		require.NoError(t, w.Append(bigThrow(seq, crashTicks, rng)))
	}
}

// TestCrashSafe kills a writing process with SIGKILL mid-run: every complete
// line of what it left parses, a torn tail is never parsed, and reopening
// the log cuts the torn tail before appending.
func TestCrashSafe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trials.jsonl")
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "TRIALLOG_CRASH_CHILD="+path)
	// The child dies with this test process even if the test binary is
	// killed (an orphaned writer once filled a disk).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(60 * time.Second)
	for {
		// Three lines are at least three line sizes; count newlines only then.
		if fi, err := os.Stat(path); err == nil && fi.Size() > 3*crashTicks*200 {
			if b, _ := os.ReadFile(path); bytes.Count(b, []byte{'\n'}) >= 3 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the child wrote fewer than 3 lines in 60 s")
		time.Sleep(5 * time.Millisecond)
	}
	// Kill at a seeded random moment within the next lines' writes.
	time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	throws, st, err := ReadThrows(path)
	require.NoError(t, err, "every complete line parses")
	require.GreaterOrEqual(t, st.Lines, 3)
	require.Len(t, throws, st.Lines)
	for i, th := range throws {
		require.Equal(t, uint32(i), th.Seq, "lines in order, none lost before the last")
		require.Len(t, th.Ticks, crashTicks, "a parsed line is a whole throw")
	}
	t.Logf("killed writer left %d complete lines, %d torn tail", st.Lines, st.Truncated)

	// Tear the tail by hand as a kill inside write(2) can: half a line.
	line, err := os.ReadFile(path)
	require.NoError(t, err)
	first := line[:bytes.IndexByte(line, '\n')+1]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(first[:len(first)/2])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	throws2, st2, err := ReadThrows(path)
	require.NoError(t, err, "a torn last line is skipped, not parsed")
	require.Equal(t, 1, st2.Truncated)
	require.Len(t, throws2, len(throws))

	// Reopening repairs the tail; the next line is whole.
	w, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Append(bigThrow(999, 3, rng)))
	require.NoError(t, w.Close())
	throws3, st3, err := ReadThrows(path)
	require.NoError(t, err)
	require.Zero(t, st3.Truncated)
	require.Len(t, throws3, len(throws)+1)
	require.Equal(t, uint32(999), throws3[len(throws3)-1].Seq)
}

func TestScanSkipsTornLine(t *testing.T) {
	for _, tc := range []struct {
		in          string
		lines, torn int
	}{
		{"", 0, 0},
		{"{}\n", 1, 0},
		{"{}\n{\"a\":", 1, 1},
		{"{}\n\n{}\n", 2, 0},
	} {
		var got int
		st, err := Scan(bytes.NewReader([]byte(tc.in)), func([]byte) error { got++; return nil })
		require.NoError(t, err)
		require.Equal(t, tc.lines, got, tc.in)
		require.Equal(t, Stats{Lines: tc.lines, Truncated: tc.torn}, st, tc.in)
	}
}

// TestOpenRefusesForeignFiles points Open at files that are not trial logs
// (the old Open cut a binary file back to its last newline, or to nothing):
// each is refused and left byte for byte as it was.
func TestOpenRefusesForeignFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	binary := make([]byte, 4986)
	for i := range binary {
		binary[i] = byte(rng.IntN(256))
	}
	noNewline := bytes.ReplaceAll(binary, []byte{'\n'}, []byte{0})
	good, err := json.Marshal(bigThrow(0, 2, rng))
	require.NoError(t, err)
	good = append(good, '\n')
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"binary", binary},
		{"binary without a newline", noNewline},
		{"text", []byte("a shopping list\neggs\nmilk")},
		{"other JSON lines", []byte("{\"trial\":1}\n{\"trial\":2}\n")},
		{"log with a binary tail", append(append([]byte{}, good...), 0x7f, 0x45, 0x4c, 0x46, 0, 1)},
		{"log with a text tail", append(append([]byte{}, good...), "not json"...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "file")
			require.NoError(t, os.WriteFile(path, tc.data, 0o644))
			w, err := Open(path, Options{NoSync: true})
			require.Error(t, err)
			require.Nil(t, w)
			require.NotContains(t, err.Error(), "\n", "one-line error")
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, tc.data, got, "the file is untouched")
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := Open(t.TempDir(), Options{})
		require.ErrorContains(t, err, "not a regular file")
	})
}

// TestOpenRepairsTornFirstRecord: a crash inside the very first write
// leaves a file with no newline at all; that tail is a torn record and is
// cut, and the run id names each run's records.
func TestOpenRepairsTornFirstRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	good, err := json.Marshal(bigThrow(0, 2, rng))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "trials.jsonl")
	require.NoError(t, os.WriteFile(path, good[:len(good)/2], 0o644))
	w, err := Open(path, Options{NoSync: true})
	require.NoError(t, err)
	th := bigThrow(1, 2, rng)
	th.Run = NewRunID()
	require.NoError(t, w.Append(th))
	_, err = w.Write([]byte("{}\n{}\n"))
	require.Error(t, err, "a Write is exactly one line")
	require.NoError(t, w.Close())
	throws, st, err := ReadThrows(path)
	require.NoError(t, err)
	require.Equal(t, Stats{Lines: 1}, st)
	require.Equal(t, th.Run, throws[0].Run)
	require.Regexp(t, `^\d{8}T\d{6}Z-\d+-[0-9a-f]{8}$`, th.Run)
}

// TestReadThrowsRejectsInconsistentRecords: records `catch latency` and
// `catch replay` would misread (a wrong joint count, period_ns ≤ 0, ticks
// going back in time) are refused by ValidateThrows with the record and the
// reason; the old code accepted them all.
func TestReadThrowsRejectsInconsistentRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		name string
		edit func(*Throw)
		want string
	}{
		{"joint count", func(th *Throw) { th.Ticks[1].CmdQ = th.Ticks[1].CmdQ[:2] }, "tick 1: cmd_q has 2 values, want one per joint (3)"},
		{"joint names", func(th *Throw) { th.Joints = th.Joints[:2] }, "tick 0: q has 3 values, want one per joint (2)"},
		{"period zero", func(th *Throw) { th.PeriodNS = 0 }, "period_ns 0"},
		{"period negative", func(th *Throw) { th.PeriodNS = -4e6 }, "period_ns -4000000"},
		{"reversed ticks", func(th *Throw) { th.Ticks[1].NowNS, th.Ticks[2].NowNS = th.Ticks[2].NowNS, th.Ticks[1].NowNS }, "tick 2 at 4000000 ns is not after"},
		{"observation tick", func(th *Throw) { th.Obs = []Obs{{Tick: 9}} }, "observation 0: tick 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trials.jsonl")
			w, err := Open(path, Options{NoSync: true})
			require.NoError(t, err)
			good := bigThrow(0, 4, rng)
			require.NoError(t, good.Validate())
			bad := bigThrow(1, 4, rng)
			tc.edit(&bad)
			require.NoError(t, w.Append(good))
			require.NoError(t, w.Append(bad))
			require.NoError(t, w.Close())
			throws, _, err := ReadThrows(path)
			require.NoError(t, err)
			require.ErrorContains(t, ValidateThrows(throws), "record 2 (throw 1): "+tc.want)
		})
	}
}

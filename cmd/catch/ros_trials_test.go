package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/sim"
)

// TestMain lets the test binary stand in for catch when ros-trials starts
// the node processes (CATCH_AS_BINARY=1 runs the command line instead of
// the tests).
func TestMain(m *testing.M) {
	if os.Getenv("CATCH_AS_BINARY") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestROSTrialsHold runs the node processes against the real master (make
// test's, or one ros-trials starts) with the hold controller: nothing is
// caught, nothing violates a limit, and the JSON is `catch sim`'s plus "ros".
func TestROSTrialsHold(t *testing.T) {
	for _, lockstep := range []bool{false, true} {
		name := "real-time"
		if lockstep {
			name = "lockstep"
		}
		t.Run(name, func(t *testing.T) { rosTrialsHold(t, lockstep) })
	}
}

func rosTrialsHold(t *testing.T, lockstep bool) {
	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("CATCH_AS_BINARY", "1")
	t.Setenv("CATCH_NODE_BINARY", self)
	var out bytes.Buffer
	root.SetOut(&out)
	defer root.SetOut(nil)
	args := []string{"ros-trials", "--controller", "hold", "--scenario", "nominal", "--trials", "3", "--seed", "3", "--pause", "0.05", "--json"}
	if lockstep {
		args = append(args, "--lockstep")
	}
	code := run(args)
	os.Unsetenv("CATCH_AS_BINARY")
	require.Equal(t, 0, code, out.String())
	var got struct {
		Controller      string  `json:"controller"`
		Trials          int     `json:"trials"`
		Catchable       int     `json:"catchable"`
		Caught          int     `json:"caught"`
		SuccessRate     float64 `json:"success_rate"`
		LimitViolations int     `json:"limit_violations"`
		ROS             struct {
			Loop struct {
				Ticks         uint64 `json:"ticks"`
				Interventions struct {
					StaleJoints uint64 `json:"stale_joints"`
				} `json:"interventions"`
			} `json:"controller_loop"`
		} `json:"ros"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &got), out.String())
	require.Equal(t, "hold", got.Controller)
	require.Equal(t, 3, got.Trials)
	require.Equal(t, 3, got.Catchable, "the first nominal throws of seed 3 are catchable")
	require.Zero(t, got.Caught)
	require.Zero(t, got.LimitViolations)
	require.Greater(t, got.ROS.Loop.Ticks, uint64(250))
	if lockstep {
		require.Zero(t, got.ROS.Loop.Interventions.StaleJoints, "in lockstep every tick has its joint state")
	}
}

// childPID returns the pid of this process's child whose command line
// holds all of words (a node process that ros-trials started), or 0.
func childPID(t *testing.T, words ...string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses: state, ppid.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		all := true
		for _, w := range words {
			all = all && bytes.Contains(cmdline, []byte(w+"\x00"))
		}
		if all {
			return pid
		}
	}
	return 0
}

// TestROSTrialsNodeDies kills the controller node (SIGKILL) once the first
// trial has landed: every trial completed before that is already in --log
// (with the run id, controller and seed), and ros-trials prints the partial
// summary and exits 1. The old code wrote --log only after a clean end and
// reported nothing.
func TestROSTrialsNodeDies(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("CATCH_AS_BINARY", "1")
	t.Setenv("CATCH_NODE_BINARY", self)
	log := filepath.Join(t.TempDir(), "trials.jsonl")
	var out bytes.Buffer
	root.SetOut(&out)
	defer root.SetOut(nil)
	defer resetFlags(root) // --log names this test's temporary directory
	killed := make(chan int, 1)
	go func() {
		defer close(killed)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if b, _ := os.ReadFile(log); bytes.Count(b, []byte{'\n'}) >= 1 {
				if pid := childPID(t, "node", "controller"); pid != 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					killed <- pid
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	code := run([]string{"ros-trials", "--controller", "hold", "--scenario", "nominal", "--trials", "12", "--seed", "3", "--pause", "0.05", "--json", "--log", log})
	os.Unsetenv("CATCH_AS_BINARY")
	require.NotZero(t, <-killed, "the controller node was found and killed")
	require.Equal(t, 1, code, out.String())
	var got struct {
		Controller string `json:"controller"`
		Trials     int    `json:"trials"`
		ROS        struct {
			Requested int  `json:"requested_trials"`
			Partial   bool `json:"partial"`
		} `json:"ros"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &got), out.String())
	require.True(t, got.ROS.Partial)
	require.Equal(t, 12, got.ROS.Requested)
	require.GreaterOrEqual(t, got.Trials, 1)
	require.Less(t, got.Trials, 12)
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	require.Len(t, lines, got.Trials, "every completed trial is in the log")
	for i, l := range lines {
		var r sim.LogRecord
		require.NoError(t, json.Unmarshal(l, &r))
		require.Equal(t, i, r.Index)
		require.Equal(t, "hold", r.Controller)
		require.Equal(t, uint64(3), r.Seed)
		require.NotEmpty(t, r.Run)
	}
}

// TestROSTrialsMuJoCo runs the node processes on the real master with the
// simulated arm in the MuJoCo engine (lockstep): with hold nothing is
// caught, every miss carries its failure reason and the arm at rest
// neither collides nor saturates a servo; with MPC the commands reach
// MuJoCo's servos through ROS and balls are caught. Every trial log line
// names the engine.
func TestROSTrialsMuJoCo(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("CATCH_NODE_BINARY", self)
	type summary struct {
		Controller      string         `json:"controller"`
		Engine          string         `json:"engine"`
		Trials          int            `json:"trials"`
		Catchable       int            `json:"catchable"`
		Caught          int            `json:"caught"`
		LimitViolations int            `json:"limit_violations"`
		FailureReasons  map[string]int `json:"failure_reasons"`
	}
	rosRun := func(ctrl string, trials int, seed string) (summary, []sim.LogRecord) {
		t.Helper()
		log := filepath.Join(t.TempDir(), "trials.jsonl")
		t.Setenv("CATCH_AS_BINARY", "1")
		code, text := runOut(t, "ros-trials", "--engine", "mujoco", "--controller", ctrl, "--scenario", "nominal",
			"--trials", strconv.Itoa(trials), "--seed", seed, "--pause", "0.05", "--lockstep", "--log", log, "--json")
		os.Unsetenv("CATCH_AS_BINARY")
		resetFlags(root)
		require.Equal(t, 0, code, text)
		var s summary
		require.NoError(t, json.Unmarshal([]byte(text), &s), text)
		b, err := os.ReadFile(log)
		require.NoError(t, err)
		var recs []sim.LogRecord
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte{'\n'}) {
			var r sim.LogRecord
			require.NoError(t, json.Unmarshal(line, &r))
			recs = append(recs, r)
		}
		require.Len(t, recs, trials)
		return s, recs
	}

	hold, recs := rosRun("hold", 2, "3")
	require.Equal(t, "mujoco", hold.Engine)
	require.Equal(t, 2, hold.Catchable, "the first nominal throws of seed 3 are catchable")
	require.Zero(t, hold.Caught)
	n := 0
	for _, c := range hold.FailureReasons {
		n += c
	}
	require.Equal(t, hold.Catchable, n, "every miss has a reason: %v", hold.FailureReasons)
	require.Zero(t, hold.LimitViolations, "the arm at rest neither collides nor saturates")
	for _, r := range recs {
		require.Equal(t, "mujoco", r.Engine)
		require.NotEmpty(t, r.Failure)
		require.Zero(t, r.TorqueSaturated)
		require.Zero(t, r.Collisions)
	}

	mpc, recs := rosRun("mpc", 3, "1")
	require.Equal(t, "mujoco", mpc.Engine)
	require.Positive(t, mpc.Caught, "MPC catches through ROS in MuJoCo: %+v", mpc)
	for _, r := range recs {
		require.Equal(t, "mujoco", r.Engine)
		require.Equal(t, r.Caught, r.Failure == "", "a reason for every miss and only for misses")
	}
}

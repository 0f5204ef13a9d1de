package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
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

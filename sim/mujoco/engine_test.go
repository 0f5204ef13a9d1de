package mujoco_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/mujoco"
)

func engines() []sim.Engine { return []sim.Engine{sim.Kinematic, mujoco.Engine{}} }

// The hold controller never moves the arm, so nothing is caught, in either
// engine.
func TestHoldCatchesNothing(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	var cfg launch.Config
	for _, eng := range engines() {
		sum, res, err := sim.Run(context.Background(), sim.RunOptions{Scenario: sc, Robot: rob, Trials: 30, Seed: 3, Workers: 2, Engine: eng,
			NewController: func() (control.Controller, error) { return launch.NewController("hold", rob, &cfg) }})
		require.NoError(t, err)
		require.Equal(t, eng.Name(), sum.Engine)
		require.Zero(t, sum.Caught, "%s caught with a still arm", eng.Name())
		require.Equal(t, eng.Name(), res[0].Engine)
		for i := range res {
			if res[i].Catchable {
				require.NotEmpty(t, res[i].Failure, "trial %d: a miss has a reason", i)
			}
		}
	}
}

// A ball dropped onto the still pocket, turned to face up, stays in it: the
// net stops it and cradles it for the rest of the trial.
func TestBallDroppedIntoStillPocketStaysIn(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	// The ready pose with the wrist (joint_5) bent until the net faces up.
	q0 := append([]float64(nil), sim.DefaultReadyQ...)
	var pose robot.Pose
	best, bestUp := 0.0, -2.0
	for a := -2.0; a <= 2; a += 0.01 {
		q0[5] = a
		rob.Chain.FK(q0, &pose)
		if pose.R[2][1] > bestUp {
			best, bestUp = a, pose.R[2][1]
		}
	}
	q0[5] = best
	rob.Chain.FK(q0, &pose)
	require.Greater(t, pose.R[2][1], 0.97, "the net normal points up")
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	for _, eng := range engines() {
		t.Run(eng.Name(), func(t *testing.T) {
			cfg := sim.Config{ReadyQ: q0, MaxTimeS: 2}
			w, err := sim.NewWorldEngine(cfg, rob, sc, eng)
			require.NoError(t, err)
			defer w.Close()
			props := sc.BallProps()
			th := sim.Throw{Ball: props, ActLatS: 0.02, Obs: sim.Observation{RateHz: 125}, Scenario: "drop"}
			// 0.25 m above the pocket centre, at rest: it falls in at ≈2.2 m/s.
			th.Init = ball.State{P: ball.Vec{pose.P[0], pose.P[1], pose.P[2] + 0.25}}
			var lcfg launch.Config
			hold, err := launch.NewController("hold", rob, &lcfg)
			require.NoError(t, err)
			var res sim.TrialResult
			require.NoError(t, w.Trial(&th, hold, sim.TrialRand(1, 0), &res))
			require.True(t, res.Caught, "%s: %+v", eng.Name(), res)
			require.Zero(t, res.PocketExits)
			require.Zero(t, res.LimitViolations)
			require.Greater(t, res.SlowInPocketS, 0.1, "the ball came to rest in the pocket")
		})
	}
}

// recorder wraps a controller and keeps the commands it sends and the joint
// states it sees, to measure how well the engine's servos track.
type recorder struct {
	control.Controller
	t        []float64
	q, cmdQ  [][]float64
	lastCmdQ []float64
}

func (r *recorder) Step(in *control.Input, cmd *control.Command) (control.Status, error) {
	st, err := r.Controller.Step(in, cmd)
	r.t = append(r.t, in.Now.Seconds())
	r.q = append(r.q, append([]float64(nil), in.Arm.Q...))
	r.cmdQ = append(r.cmdQ, append([]float64(nil), cmd.Q...))
	return st, err
}

// An MPC trajectory (commanded joint positions at 250 Hz) is tracked by the
// MuJoCo servos about as well as by the kinematic arm: the tracking error
// (measured position against the command sent one action latency plus one
// period earlier) is reported per engine and bounded.
func TestMPCTrajectoryTracking(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	var lcfg launch.Config
	rms := map[string]float64{}
	for _, eng := range engines() {
		w, err := sim.NewWorldEngine(sim.Config{}, rob, sc, eng)
		require.NoError(t, err)
		var sum, n float64
		var worst float64
		for i := 0; i < 3; i++ {
			c, err := launch.NewController("mpc", rob, &lcfg)
			require.NoError(t, err)
			rec := &recorder{Controller: c}
			var res sim.TrialResult
			require.NoError(t, sim.RunTrial(w, rec, sc, 1, i, &res))
			lag := int(math.Round((sc.ActionLatencyMS/1000)*250)) + 1
			for k := lag; k < len(rec.t); k++ {
				for j := 1; j < 7; j++ { // the arm's revolute joints, rad
					e := rec.q[k][j] - rec.cmdQ[k-lag][j]
					sum += e * e
					n++
					worst = math.Max(worst, math.Abs(e))
				}
			}
		}
		require.NoError(t, w.Close())
		rms[eng.Name()] = math.Sqrt(sum / n)
		t.Logf("%s: joint tracking error of 3 MPC catches: RMS %.4f rad, max %.4f rad", eng.Name(), rms[eng.Name()], worst)
	}
	// Same servo bandwidth, so the MuJoCo arm tracks within 2× the kinematic
	// arm's error (coupling, gravity and torque limits add some).
	require.Less(t, rms["mujoco"], 2*rms["kinematic"]+0.005)
	require.Greater(t, rms["mujoco"], 0.0)
}

// BenchmarkTrial is one nominal trial with the ES policy (a controller of
// ≈0.1 ms per step, so the time is mostly the engine's); trials/s per core
// is 1/(s/op). With -benchmem, B/op and allocs/op are the Go heap per
// trial; the MuJoCo world's C memory (model, data and its stack, allocated
// once per world and reused by every trial) is the mujoco_bytes metric.
func BenchmarkTrial(b *testing.B) {
	rob, err := robot.Default()
	require.NoError(b, err)
	sc, err := sim.Lookup("nominal")
	require.NoError(b, err)
	var lcfg launch.Config
	for _, eng := range engines() {
		b.Run(eng.Name(), func(b *testing.B) {
			w, err := sim.NewWorldEngine(sim.Config{}, rob, sc, eng)
			require.NoError(b, err)
			defer w.Close()
			c, err := launch.NewController("es", rob, &lcfg)
			require.NoError(b, err)
			var res sim.TrialResult
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				require.NoError(b, sim.RunTrial(w, c, sc, 1, i%50, &res))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "trials/s")
			if eng.Name() == "mujoco" {
				ph, err := eng.NewPhysics(sim.Config{}.WithDefaults(rob.Chain.DOF()), rob, sc)
				require.NoError(b, err)
				sized, ok := ph.(interface{ Bytes() int })
				require.True(b, ok)
				b.ReportMetric(float64(sized.Bytes()), "mujoco_bytes")
				require.NoError(b, ph.Close())
			}
		})
	}
}

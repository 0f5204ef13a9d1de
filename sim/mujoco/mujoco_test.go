package mujoco

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// simConfig is the world configuration the engine sees from sim.World
// (defaults filled in).
func simConfig() sim.Config {
	c := sim.Config{ControlRateHz: 250, MaxTimeS: 2, ReadyQ: append([]float64(nil), sim.DefaultReadyQ...)}
	c.Pocket.DepthM, c.Pocket.HoldS = 0.07, 0.25
	return c
}

func newTestPhysics(t *testing.T, props ball.Props) *physics {
	t.Helper()
	rob, err := robot.Default()
	require.NoError(t, err)
	p, err := newPhysics(Config{}, simConfig(), rob, props)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestVersion(t *testing.T) {
	// Debian 12's libmujoco-dev; the engine is written against 2.2's C API.
	require.True(t, strings.HasPrefix(Version(), "2."), "MuJoCo %s", Version())
}

// Free flight of every ball set, released away from the robot with spin,
// agrees with ball.Props's RK4 flight within 1 mm over 1 s (the
// cross-check of the drag and Magnus forces applied through
// xfrc_applied and of the leapfrog start).
func TestFreeFlightMatchesBallModel(t *testing.T) {
	for _, props := range ball.Sets() {
		t.Run(props.Name, func(t *testing.T) {
			p := newTestPhysics(t, props)
			th := sim.Throw{Ball: props, ActLatS: 0.02}
			th.Init = ball.State{P: ball.Vec{2, 0.5, 1.2}, V: ball.Vec{6, 1, 5}, W: ball.Vec{30, -60, 90}}
			require.NoError(t, p.Reset(&th, sim.DefaultReadyQ))
			ref := th.Init
			var worst float64
			for i := 0; i < 1000; i++ {
				p.Step(float64(i) * sim.PhysicsStep)
				props.Step(&ref, sim.PhysicsStep)
				b := p.Ball()
				d := math.Sqrt(sq(b.P[0]-ref.P[0]) + sq(b.P[1]-ref.P[1]) + sq(b.P[2]-ref.P[2]))
				worst = math.Max(worst, d)
			}
			require.Greater(t, p.Ball().P[2], 0.2, "the ball stayed in the air")
			t.Logf("%s: largest deviation from ball.Props over 1 s: %.3g mm", props.Name, 1000*worst)
			require.Less(t, worst, 1e-3)
			// The spin decays as ball.Props says (within 1%).
			b := p.Ball()
			for k := 0; k < 3; k++ {
				require.InDelta(t, ref.W[k], b.W[k], 0.01*math.Abs(ref.W[k])+1e-6, "spin[%d]", k)
			}
		})
	}
}

// With no command the servos hold the ready pose against gravity.
func TestServoHoldsReadyPose(t *testing.T) {
	p := newTestPhysics(t, mustBall(t, "tennis"))
	th := sim.Throw{Ball: mustBall(t, "tennis"), ActLatS: 0.02}
	th.Init = ball.State{P: ball.Vec{5, 0, 1}}
	require.NoError(t, p.Reset(&th, sim.DefaultReadyQ))
	for i := 0; i < 500; i++ {
		p.Step(float64(i) * sim.PhysicsStep)
	}
	q, _ := p.Joints()
	for j := range q {
		require.InDelta(t, sim.DefaultReadyQ[j], q[j], 2e-3, "joint %d drifted", j)
	}
	var c sim.Counters
	p.Counters(&c)
	require.Zero(t, c.Collisions, "the ready pose touches nothing")
	require.Zero(t, c.TorqueSaturated)
}

func TestMJCFNeedsInertia(t *testing.T) {
	urdf := strings.Replace(string(robot.ShippedURDF()), "<mass value=\"3.909\"/>", "<mass value=\"3.909\"/>", 1)
	m, err := robot.ParseURDF([]byte(urdf))
	require.NoError(t, err)
	for i := range m.Links {
		if m.Links[i].Name == "link_2" {
			m.Links[i].Inertial = nil
		}
	}
	rob, err := robot.Default()
	require.NoError(t, err)
	r2 := *rob
	r2.Model = m
	var cfg Config
	cfg.setDefaults()
	_, err = buildMJCF(&cfg, &r2, 0.07, mustBall(t, "tennis"))
	require.ErrorContains(t, err, `link "link_2": no <inertial>`)
}

func TestConfigValidate(t *testing.T) {
	_, err := newPhysics(Config{NetTimeConstS: 1e-4}, simConfig(), mustRobot(t), mustBall(t, "tennis"))
	require.ErrorContains(t, err, "net_time_const_s")
	_, err = newPhysics(Config{ServoBandwidthHz: -1}, simConfig(), mustRobot(t), mustBall(t, "tennis"))
	require.ErrorContains(t, err, "servo_bandwidth_hz")
}

func mustBall(t *testing.T, name string) ball.Props {
	b, err := ball.ByName(name)
	require.NoError(t, err)
	return b
}

func mustRobot(t *testing.T) *robot.Robot {
	rob, err := robot.Default()
	require.NoError(t, err)
	return rob
}

func sq(x float64) float64 { return x * x }

// BenchmarkStep is one 1 ms physics step of the arm holding its pose with
// the ball resting in the pocket (the contact-heavy case); mj_bytes is the
// MuJoCo memory of one world (model and data).
func BenchmarkStep(b *testing.B) {
	rob, err := robot.Default()
	require.NoError(b, err)
	props, err := ball.ByName("tennis")
	require.NoError(b, err)
	p, err := newPhysics(Config{}, simConfig(), rob, props)
	require.NoError(b, err)
	defer p.Close()
	th := sim.Throw{Ball: props, ActLatS: 0.02}
	var pose robot.Pose
	rob.Chain.FK(sim.DefaultReadyQ, &pose)
	// Into the pocket along the net normal.
	n := pose.Axis(1)
	th.Init = ball.State{P: ball.Vec{pose.P[0] + 0.1*n[0], pose.P[1] + 0.1*n[1], pose.P[2] + 0.1*n[2]}, V: ball.Vec{-3 * n[0], -3 * n[1], -3 * n[2]}}
	require.NoError(b, p.Reset(&th, sim.DefaultReadyQ))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Step(float64(i%2000) * sim.PhysicsStep)
	}
	b.ReportMetric(float64(p.Bytes()), "mj_bytes")
}

// An arm folded down onto itself (shoulder 109° forward, elbow 69° down,
// wrist −115°: within the joint limits) puts the head on the base and the
// rail beam; the counters say which, the torque saturation is counted per
// joint, and sim.TrialResult.AddCounters turns them into violations by
// kind. Fully folded the other way (shoulder and elbow at −109°), the upper
// arm's and the forearm's cylinders overlap where the arm's joint limits
// keep the real links apart: that pair is left out, as in the safety
// layer's collision check (Config.SelfContactMinJointGap).
func TestCollisionAndSaturationKinds(t *testing.T) {
	p := newTestPhysics(t, mustBall(t, "tennis"))
	th := sim.Throw{Ball: mustBall(t, "tennis"), ActLatS: 0.02}
	th.Init = ball.State{P: ball.Vec{5, 0, 1}}
	settle := func(q0 []float64) sim.Counters {
		require.NoError(t, p.Reset(&th, q0))
		for i := 0; i < 200; i++ {
			p.Step(float64(i) * sim.PhysicsStep)
		}
		var c sim.Counters
		p.Counters(&c)
		return c
	}
	folded := []float64{0, 0, -1.9, -1.9, 0, 0, 0}
	c := settle(folded)
	require.Zero(t, c.Collisions, "neighbours two joints apart do not collide: %s", c.FirstCollision)
	gap1, err := newPhysics(Config{SelfContactMinJointGap: 1}, simConfig(), mustRobot(t), mustBall(t, "tennis"))
	require.NoError(t, err)
	defer gap1.Close()
	require.NoError(t, gap1.Reset(&th, folded))
	for i := 0; i < 200; i++ {
		gap1.Step(float64(i) * sim.PhysicsStep)
	}
	gap1.Counters(&c)
	require.Positive(t, c.SelfCollisions, "with every contact MuJoCo allows, the cylinders overlap")

	c = settle([]float64{0, 0, 1.9, 1.2, 0, -2, 0})
	require.Positive(t, c.SelfCollisions, "the head on the base")
	require.Positive(t, c.RailCollisions, "the head on the rail beam")
	require.Zero(t, c.FloorCollisions, "the floor is 0.8 m below the base")
	require.LessOrEqual(t, max(c.SelfCollisions, c.RailCollisions), c.Collisions)
	require.LessOrEqual(t, c.Collisions, c.SelfCollisions+c.RailCollisions)
	require.Len(t, c.SaturatedSteps, 7)
	sum, most := 0, 0
	for _, n := range c.SaturatedSteps {
		sum += n
		most = max(most, n)
	}
	require.Positive(t, c.TorqueSaturated, "pushing against the contact saturates the servos")
	require.LessOrEqual(t, most, c.TorqueSaturated)
	require.LessOrEqual(t, c.TorqueSaturated, sum)

	var res sim.TrialResult
	res.AddCounters(&c)
	v := res.ViolationKinds
	require.Equal(t, c.SelfCollisions, v.SelfCollision)
	require.Equal(t, c.RailCollisions, v.RailCollision)
	require.Equal(t, most, v.TorqueSaturated[c.SaturatedJoint])
	require.Equal(t, res.LimitViolations, v.Total())
}

// A command whose velocity jumps beyond the acceleration limit (what the
// safety layer's hard stop sends) is counted as infeasible, and the torque
// saturation it causes is attributed to it; a ramp within the limit
// saturates nothing.
func TestInfeasibleCommandExplainsSaturation(t *testing.T) {
	p := newTestPhysics(t, mustBall(t, "tennis"))
	th := sim.Throw{Ball: mustBall(t, "tennis"), ActLatS: 0.02}
	th.Init = ball.State{P: ball.Vec{5, 0, 1}}
	run := func(railVel func(k int) float64) sim.Counters {
		require.NoError(t, p.Reset(&th, sim.DefaultReadyQ))
		q := append([]float64(nil), sim.DefaultReadyQ...)
		qd := make([]float64, len(q))
		for i := 0; i < 300; i++ {
			t := float64(i) * sim.PhysicsStep
			if i%4 == 0 {
				k := i / 4
				qd[0] = railVel(k)
				q[0] += qd[0] * 0.004
				p.Command(t, q, qd)
			}
			p.Step(t)
		}
		var c sim.Counters
		p.Counters(&c)
		return c
	}
	// 0.4 m/s in 40 ms: 10 m/s², the rail's acceleration limit.
	c := run(func(k int) float64 { return 0.04 * float64(min(k, 10)) })
	require.Zero(t, c.InfeasibleCommands)
	require.Zero(t, c.TorqueSaturated, "a ramp at the acceleration limit stays within the rail's force")
	// 0.4 m/s at once: 100 m/s² over one period.
	c = run(func(k int) float64 { return 0.4 * float64(min(k, 1)) })
	require.Equal(t, 1, c.InfeasibleCommands)
	require.Positive(t, c.TorqueSaturated)
	require.Equal(t, c.TorqueSaturated, c.SaturatedAfterInfeasible, "all of it follows the jump")
	require.Zero(t, c.SaturatedOther)
	require.Zero(t, c.SaturatedByBall, "the ball is far away")
}

package control_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// headInRail puts the head's hoop into the rail beam in front of the base:
// within the joint limits and inside the default workspace box, so only the
// collision check can stop it. Found by a seeded random search near the
// ready pose.
var headInRail = []float64{0, -0.49, 0.89, 0.37, 0, 1.01, 1.01}

// headOnBase folds the wrist back so the head lies on the arm's base.
var headOnBase = []float64{0, -0.1, 0.9, 0.42, -0.18, 1.53, 2.1}

func TestColliderShippedRobot(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	c, err := control.NewCollider(control.CollisionConfig{}, rob)
	require.NoError(t, err)
	require.Equal(t, 11, c.NumCapsules(), "rail, base, link_1..link_3, forearm and its two fork arms, wrist, stick, hoop")

	cases := []struct {
		name string
		q    []float64
		hit  bool
		a, b string
	}{
		{"zero pose", make([]float64, 7), false, "", ""},
		{"ready pose", sim.DefaultReadyQ, false, "", ""},
		{"rail at the left end, ready arm", append([]float64{0.8}, sim.DefaultReadyQ[1:]...), false, "", ""},
		{"head in the rail", headInRail, true, "world", "head"},
		{"head on the base", headOnBase, true, "base_link", "head"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			near := c.Nearest(tc.q)
			require.Equal(t, tc.hit, c.Check(tc.q), "nearest %+v", near)
			if tc.hit {
				require.Equal(t, tc.a, near.A)
				require.Equal(t, tc.b, near.B)
				require.Less(t, near.DistM, 0.0, "overlap")
			} else {
				require.Greater(t, near.DistM, 0.01, "clear by more than the margin")
			}
		})
	}

	require.Equal(t, 26, c.NumPairs(), "pairs at least 3 joints apart")
	require.Zero(t, testing.AllocsPerRun(100, func() { c.Check(headInRail) }), "Check allocates")
}

// floorArmURDF is a one-joint arm whose 0.6 m link (a capsule of radius
// 0.05 m) pivots about y at 0.4 m above the floor: pointing up it is clear,
// pointing down its elbow end hits the floor.
const floorArmURDF = `<robot name="floorarm">
  <link name="world"/>
  <link name="upper"><collision><origin xyz="0 0 0.3"/><geometry><cylinder radius="0.05" length="0.6"/></geometry></collision></link>
  <joint name="shoulder" type="revolute"><parent link="world"/><child link="upper"/>
    <origin xyz="0 0 0.4"/><axis xyz="0 1 0"/><limit lower="-3.1" upper="3.1" velocity="2"/></joint>
</robot>`

func floorArm(t *testing.T) *robot.Robot {
	t.Helper()
	path := filepath.Join(t.TempDir(), "floorarm.urdf")
	require.NoError(t, os.WriteFile(path, []byte(floorArmURDF), 0o600))
	rob, err := robot.Load(robot.Config{URDF: path, TipLink: "upper", AccLimits: []float64{10}})
	require.NoError(t, err)
	return rob
}

func TestColliderFloor(t *testing.T) {
	rob := floorArm(t)
	c, err := control.NewCollider(control.CollisionConfig{}, rob)
	require.NoError(t, err)
	require.False(t, c.Check([]float64{0}), "upright")
	// Tilted by θ the link's far end sits at 0.4 + 0.6·cos θ; with the
	// radius and the 0.01 m margin the check trips once that is below 0.06.
	trip := math.Acos((0.06 - 0.4) / 0.6)
	require.False(t, c.Check([]float64{trip - 0.01}))
	require.True(t, c.Check([]float64{trip + 0.01}))
	near := c.Nearest([]float64{math.Pi})
	require.Equal(t, "floor", near.B)
	require.InDelta(t, 0.4-0.6-0.05, near.DistM, 1e-12) // exact arithmetic up to cos π

	// Level with the shoulder the link's underside is at 0.35 m.
	raised, err := control.NewCollider(control.CollisionConfig{FloorZ: 0.36}, rob)
	require.NoError(t, err)
	require.True(t, raised.Check([]float64{math.Pi / 2}), "underside below a floor at 0.36 m")
}

func TestSafetyBrakesOnCollision(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    []float64
	}{{"head into the rail", headInRail}, {"head onto the base", headOnBase}} {
		t.Run(tc.name, func(t *testing.T) {
			arm := control.ArmState{Q: append([]float64(nil), tc.q...), Qd: make([]float64, 7)}
			// The arm moves toward the pose at 0.1 rad/s on every joint; the
			// command asks to go on.
			for j := 1; j < 7; j++ {
				arm.Qd[j] = 0.1
			}
			cmd := control.NewCommand(7)
			copy(cmd.Q, tc.q)
			copy(cmd.Qd, arm.Qd)

			off, _ := newSafety(t, control.SafetyConfig{Collision: control.CollisionConfig{Off: true}})
			require.Equal(t, control.Passed, off.Filter(&cmd, &arm), "without the check the command passes every other test")

			s, rob := newSafety(t, control.SafetyConfig{})
			copy(cmd.Q, tc.q)
			copy(cmd.Qd, arm.Qd)
			require.Equal(t, control.Braked, s.Filter(&cmd, &arm))
			require.Equal(t, uint64(1), s.Counts.Collision)
			require.Equal(t, uint64(1), s.Counts.Total())
			// The brake decelerates from the measured motion by one period's
			// acceleration and moves the position by the mean velocity.
			for j := 1; j < 7; j++ {
				v1 := math.Max(0, 0.1-rob.Limits.Acc[j]*period)
				require.InDelta(t, v1, cmd.Qd[j], 1e-12, "joint %d velocity", j) // exact up to rounding
				require.InDelta(t, tc.q[j]+0.5*(0.1+v1)*period, cmd.Q[j], 1e-12, "joint %d position", j)
			}
		})
	}
}

func TestCollisionConfigValidate(t *testing.T) {
	require.NoError(t, control.CollisionConfig{}.Validate())
	require.ErrorContains(t, control.CollisionConfig{MarginM: -0.1}.Validate(), "collision.margin_m")
	require.ErrorContains(t, control.CollisionConfig{FloorZ: math.NaN()}.Validate(), "collision.floor_z_m")
	require.ErrorContains(t, control.CollisionConfig{MinJointGap: -1}.Validate(), "collision.min_joint_gap")
	require.ErrorContains(t, control.SafetyConfig{Collision: control.CollisionConfig{MarginM: 1}}.Validate(), "collision.margin_m")
}

// BenchmarkSafetyFilter is the safety layer's cost per tick with the
// collision check on (the default), at the ready pose: limits, workspace
// box, 11 capsules against the floor and in 26 pairs.
func BenchmarkSafetyFilter(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  control.SafetyConfig
	}{
		{"collision", control.SafetyConfig{}},
		{"no-collision", control.SafetyConfig{Collision: control.CollisionConfig{Off: true}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := newSafety(b, bc.cfg)
			arm := ready()
			cmd := control.NewCommand(len(arm.Q))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				copy(cmd.Q, arm.Q)
				if s.Filter(&cmd, &arm) != control.Passed {
					b.Fatal("ready pose not passed")
				}
			}
		})
	}
}

func TestSafetyFilterAllocatesNothing(t *testing.T) {
	s, _ := newSafety(t, control.SafetyConfig{})
	arm := ready()
	cmd := control.NewCommand(len(arm.Q))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		copy(cmd.Q, arm.Q)
		s.Filter(&cmd, &arm)
	}))
}

// TestSafetyNeverSendsACollision drives the head from the ready pose toward
// the rail at a steady joint speed: once the commands collide they are
// braked, and no command the filter lets out (brakes included) collides.
func TestSafetyNeverSendsACollision(t *testing.T) {
	s, rob := newSafety(t, control.SafetyConfig{})
	c, err := control.NewCollider(control.CollisionConfig{}, rob)
	require.NoError(t, err)
	arm := ready()
	cmd := control.NewCommand(7)
	const ticks = 400

	for k := 1; k <= ticks; k++ {
		f := float64(k) / ticks
		for j := range cmd.Q {
			d := headInRail[j] - sim.DefaultReadyQ[j]
			cmd.Q[j] = sim.DefaultReadyQ[j] + f*d
			cmd.Qd[j] = d / (ticks * period)
		}
		s.Filter(&cmd, &arm)
		require.False(t, c.Check(cmd.Q), "tick %d: sent a colliding pose", k)
		copy(arm.Q, cmd.Q) // the arm follows its commands
		copy(arm.Qd, cmd.Qd)

	}
	require.Positive(t, s.Counts.Collision, "the path ends in the rail")
}

package mujoco

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// Config sets the MuJoCo engine's physical parameters. The zero value means
// the defaults on each field. Values marked "assumed" have no measurement
// behind them; they are engineering choices documented here and in
// docs/architecture.md.
type Config struct {
	// Substeps is the number of physics steps per sim.PhysicsStep (1 ms);
	// default 1 (physics at 1 kHz).
	Substeps int `yaml:"substeps"`

	// ServoBandwidthHz is the natural frequency of each joint servo's
	// position loop; default 12 Hz, the kinematic engine's tracking
	// bandwidth (an industrial position interface such as ABB EGM).
	ServoBandwidthHz float64 `yaml:"servo_bandwidth_hz"`
	// ServoDampingRatio of the servo loop; default 1.
	ServoDampingRatio float64 `yaml:"servo_damping_ratio"`
	// ArmatureRail is the rail's reflected drive inertia, kg; default 2
	// (assumed).
	ArmatureRail float64 `yaml:"armature_rail_kg"`
	// ArmatureArm is the reflected rotor inertia of the first three
	// revolute joints, kg·m²; default 0.04 (assumed: a rotor of ≈4e-6 kg·m²
	// behind a ≈100:1 gear). ArmatureWrist is the same for the later
	// joints; default 0.004 (assumed).
	ArmatureArm   float64 `yaml:"armature_arm_kgm2"`
	ArmatureWrist float64 `yaml:"armature_wrist_kgm2"`

	// The lacrosse head. FrameRadiusM is the radius of the frame's capsules
	// around the opening; default 0.0075 m (the kinematic pocket's 0.015 m
	// rim). FrameSegments is their number; default 16. StickRadiusM and
	// StickLengthM size the handle between the flange and the frame;
	// defaults 0.015 m and 0.1 m (assumed).
	FrameRadiusM  float64 `yaml:"frame_radius_m"`
	FrameSegments int     `yaml:"frame_segments"`
	StickRadiusM  float64 `yaml:"stick_radius_m"`
	StickLengthM  float64 `yaml:"stick_length_m"`
	// FrameTimeConstS is the contact time constant of the frame, the arm
	// and the floor (MuJoCo solref), against the ball and between the arm's
	// own bodies, s; default 0.005 (stiff, 5 physics steps: at 0.002 s,
	// MuJoCo's minimum of 2 steps, arm self-collisions went unstable in 2% of
	// MPC trials). The damping ratio comes from the ball set's restitution.
	FrameTimeConstS float64 `yaml:"frame_time_const_s"`

	// The net: NetMeridians capsules from the rim to the bottom of the
	// pocket, each of NetSegments pieces, plus NetRings rings across them;
	// defaults 12, 3 and 1 (48 capsules). NetRadiusM is the capsules'
	// radius; default 0.006 m.
	NetMeridians int     `yaml:"net_meridians"`
	NetSegments  int     `yaml:"net_segments"`
	NetRings     int     `yaml:"net_rings"`
	NetRadiusM   float64 `yaml:"net_radius_m"`
	// NetTimeConstS and NetDampingRatio make the net yield: the ball's
	// contacts with it are soft, damped springs (MuJoCo solref). Defaults
	// 0.012 s and 1 (a tennis ball at 8 m/s sinks ≈3 cm into the net and
	// comes back with little speed; measured in the package tests).
	NetTimeConstS   float64 `yaml:"net_time_const_s"`
	NetDampingRatio float64 `yaml:"net_damping_ratio"`
	// NetImpedance is the net's MuJoCo solimp d0 (the constraint's
	// impedance at zero penetration); default 0.5, softer than a rigid
	// surface's 0.9 (assumed).
	NetImpedance float64 `yaml:"net_impedance"`
	// NetFriction is the net's sliding friction coefficient; default 0.8
	// (a string mesh grips the ball; assumed).
	NetFriction float64 `yaml:"net_friction"`
	// SelfContactMinJointGap: two of the robot's bodies (the rail and the
	// floor count as the world's) touch only when at least this many
	// movable joints lie between them along the chain; default 3, the
	// safety layer's collision check (control.CollisionConfig.MinJointGap):
	// the IRB 120's own joint limits keep links two joints apart clear of
	// each other, where the coarser primitives around them overlap (the
	// upper arm and the forearm at a fully folded elbow). 1 or 2 keep every
	// contact MuJoCo allows (it leaves out parent and child only).
	SelfContactMinJointGap int `yaml:"self_contact_min_joint_gap"`
	// NetRollingM is the net's rolling (and torsional) friction, m: the
	// string mesh wraps the ball, so a ball at rest in the pocket does not
	// roll out of it; default 0.03 (assumed: a tennis ball of radius 0.0335
	// m stays on a net up to ≈60° steep).
	NetRollingM float64 `yaml:"net_rolling_m"`
}

func (c *Config) setDefaults() {
	defF := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defI(&c.Substeps, 1)
	defF(&c.ServoBandwidthHz, 12)
	defF(&c.ServoDampingRatio, 1)
	defF(&c.ArmatureRail, 2)
	defF(&c.ArmatureArm, 0.04)
	defF(&c.ArmatureWrist, 0.004)
	defF(&c.FrameRadiusM, 0.0075)
	defI(&c.FrameSegments, 16)
	defF(&c.StickRadiusM, 0.015)
	defF(&c.StickLengthM, 0.1)
	defF(&c.FrameTimeConstS, 0.005)
	defI(&c.NetMeridians, 12)
	defI(&c.NetSegments, 3)
	defI(&c.NetRings, 1)
	defF(&c.NetRadiusM, 0.006)
	defF(&c.NetTimeConstS, 0.012)
	defF(&c.NetDampingRatio, 1)
	defF(&c.NetImpedance, 0.5)
	defF(&c.NetFriction, 0.8)
	defF(&c.NetRollingM, 0.03)
	defI(&c.SelfContactMinJointGap, 3)
}

// Validate reports the first bad field (of a Config with its defaults set).
func (c Config) Validate() error {
	for _, f := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"substeps", float64(c.Substeps), 1, 20},
		{"servo_bandwidth_hz", c.ServoBandwidthHz, 0.5, 200},
		{"servo_damping_ratio", c.ServoDampingRatio, 0.05, 10},
		{"armature_rail_kg", c.ArmatureRail, 0, 1000},
		{"armature_arm_kgm2", c.ArmatureArm, 0, 100},
		{"armature_wrist_kgm2", c.ArmatureWrist, 0, 100},
		{"frame_radius_m", c.FrameRadiusM, 1e-3, 0.05},
		{"frame_segments", float64(c.FrameSegments), 6, 64},
		{"stick_radius_m", c.StickRadiusM, 1e-3, 0.05},
		{"stick_length_m", c.StickLengthM, 0, 1},
		{"frame_time_const_s", c.FrameTimeConstS, 1e-4, 0.1},
		{"net_meridians", float64(c.NetMeridians), 4, 64},
		{"net_segments", float64(c.NetSegments), 1, 16},
		{"net_rings", float64(c.NetRings), 0, 16},
		{"net_radius_m", c.NetRadiusM, 1e-3, 0.05},
		{"net_time_const_s", c.NetTimeConstS, 1e-3, 0.5},
		{"net_damping_ratio", c.NetDampingRatio, 0.05, 10},
		{"net_impedance", c.NetImpedance, 0.01, 0.99},
		{"net_friction", c.NetFriction, 0, 5},
		{"net_rolling_m", c.NetRollingM, 0, 0.5},
		{"self_contact_min_joint_gap", float64(c.SelfContactMinJointGap), 1, 8},
	} {
		if math.IsNaN(f.v) || f.v < f.lo || f.v > f.hi {
			return fmt.Errorf("mujoco.%s: %v, want [%g, %g]", f.name, f.v, f.lo, f.hi)
		}
	}
	if 2*c.FrameTimeConstS < c.step() || 2*c.NetTimeConstS < c.step() {
		return fmt.Errorf("mujoco: contact time constants (frame %g s, net %g s) must be at least 2 physics steps (%g s)", c.FrameTimeConstS, c.NetTimeConstS, c.step())
	}
	return nil
}

// step is the physics time step, s.
func (c *Config) step() float64 { return sim.PhysicsStep / float64(c.Substeps) }

// armature returns the reflected drive inertia of a joint; rev is the
// number of revolute joints before it along the chain.
func (c *Config) armature(t robot.JointType, rev int) float64 {
	switch {
	case t == robot.Prismatic:
		return c.ArmatureRail
	case rev < 3:
		return c.ArmatureArm
	}
	return c.ArmatureWrist
}

func (c *Config) netSolimp() string {
	return fmt.Sprintf("%s 0.95 0.02 0.5 2", f(c.NetImpedance))
}

// frameSolref is the (time constant, damping ratio) of rigid surfaces
// against the ball: the ratio that gives the ball set's restitution e,
// ζ = −ln e / √(π² + ln² e) (a linear spring–damper contact).
func (c *Config) frameSolref(b ball.Props) [2]float64 {
	e := contactFor(b.Name).Restitution
	l := math.Log(e)
	return [2]float64{c.FrameTimeConstS, -l / math.Sqrt(math.Pi*math.Pi+l*l)}
}

func (c *Config) floorSolref(b ball.Props) [2]float64 { return c.frameSolref(b) }

// ballContact are a ball set's contact parameters against rigid surfaces.
type ballContact struct {
	Restitution float64 // coefficient of restitution on a hard surface
	Friction    float64 // sliding friction coefficient
	// InertiaFactor k of the moment of inertia k·m·r²: 2/3 for a hollow
	// shell, 2/5 for a solid ball.
	InertiaFactor float64
}

// contacts per ball set. Restitution from the rules' drop tests: tennis,
// ITF Rules of Tennis App. I (a 254 cm drop bounces 135–147 cm:
// e = √(141/254) ≈ 0.75); lacrosse, NOCSAE ND049 (a 72 in drop rebounds
// 43–51 in: e ≈ √(47/72) ≈ 0.81); table tennis, ITTF Laws 2.3.3 (30.5 cm →
// ≈23 cm: e ≈ 0.87). Foam and every friction value are assumed.
var contacts = map[string]ballContact{
	"tennis":       {Restitution: 0.75, Friction: 0.6, InertiaFactor: 0.55},    // thick shell (Cross: 0.55)
	"lacrosse":     {Restitution: 0.81, Friction: 0.7, InertiaFactor: 0.4},     // solid rubber
	"table-tennis": {Restitution: 0.87, Friction: 0.3, InertiaFactor: 2.0 / 3}, // thin shell
	"foam":         {Restitution: 0.5, Friction: 0.8, InertiaFactor: 0.4},      // solid foam
}

// contactFor returns a ball set's contact parameters; a ball set without an
// entry (a custom ball file) gets the tennis ball's.
func contactFor(name string) ballContact {
	if c, ok := contacts[name]; ok {
		return c
	}
	return contacts["tennis"]
}

// Check validates c with its defaults filled in, as the engine will, so a
// command can reject a bad configuration before any trial runs.
func (c Config) Check() error {
	c.setDefaults()
	return c.Validate()
}

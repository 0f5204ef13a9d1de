package sim

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
)

// ReachConfig sets the reachability test that decides whether a throw
// counts toward the success rate. Zero fields take the defaults.
type ReachConfig struct {
	// ReactionS is the earliest time after release the arm can start moving
	// (first observations and a usable estimate); default 0.1 s.
	ReactionS float64 `yaml:"reaction_s"`
	// SampleS is the spacing of candidate catch points along the flight;
	// default 0.02 s.
	SampleS float64 `yaml:"sample_s"`
	// PosTolM is how close the head origin must get to the ball; default 0.01 m.
	PosTolM float64 `yaml:"pos_tol_m"`
	// NormalTolDeg is how far the net normal may be from facing the incoming
	// ball; default 30°.
	NormalTolDeg float64 `yaml:"normal_tol_deg"`
}

func (c *ReachConfig) setDefaults() {
	if c.ReactionS == 0 {
		c.ReactionS = 0.1
	}
	if c.SampleS == 0 {
		c.SampleS = 0.02
	}
	if c.PosTolM == 0 {
		c.PosTolM = 0.01
	}
	if c.NormalTolDeg == 0 {
		c.NormalTolDeg = 30
	}
}

// Validate reports the first bad field.
func (c ReachConfig) Validate() error {
	for _, f := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"reach.reaction_s", c.ReactionS, 0, 1}, {"reach.sample_s", c.SampleS, 1e-3, 0.2},
		{"reach.pos_tol_m", c.PosTolM, 1e-4, 0.2}, {"reach.normal_tol_deg", c.NormalTolDeg, 0.1, 90},
	} {
		if math.IsNaN(f.v) || f.v < f.lo || f.v > f.hi {
			return fmt.Errorf("%s: %v, want [%g, %g]", f.name, f.v, f.lo, f.hi)
		}
	}
	return nil
}

// Reach decides whether any configuration of the robot, within its limits,
// can meet a throw: the head origin on the ball's path with the net facing
// the incoming ball, reached from the ready pose (rest to rest, velocity and
// acceleration limits per joint) by the time the ball gets there. It is a
// necessary-condition check on whole-body reach and timing, not a planner.
// Not safe for concurrent use.
type Reach struct {
	cfg   ReachConfig
	rob   *robot.Robot
	ik    *robot.IKSolver
	ready []float64
	seed  []float64
	q     []float64
	// shoulderLink indexes the chain frame after the second joint; reachM
	// bounds the tip's distance from it (sum of the later link lengths).
	shoulderLink int
	reachM       float64
}

// NewReach returns a checker starting from the ready pose.
func NewReach(cfg ReachConfig, rob *robot.Robot, ready []float64) (*Reach, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := rob.Chain.DOF()
	if len(ready) != n {
		return nil, fmt.Errorf("reach: ready pose has %d values, want %d", len(ready), n)
	}
	r := &Reach{cfg: cfg, rob: rob, ik: robot.NewIKSolver(rob.Chain), ready: append([]float64(nil), ready...),
		seed: make([]float64, n), q: make([]float64, n)}
	r.shoulderLink, r.reachM = shoulder(rob.Chain, ready)
	return r, nil
}

// Catchable reports whether the throw can be met, and the first time at
// which it can.
func (r *Reach) Catchable(th *Throw) (bool, float64) {
	st := th.Init
	props := th.Ball
	dt := r.cfg.SampleS
	opt := robot.IKOptions{PosTol: r.cfg.PosTolM, AngTol: r.cfg.NormalTolDeg * math.Pi / 180}
	// The shoulder (joint 2) of the shipped arm runs along the rail at this
	// height; points farther than the arm's reach from that line are skipped
	// before any IK.
	var shoulder robot.Pose
	r.rob.Chain.FKLink(r.ready, r.shoulderLink, &shoulder)
	for i := 1; float64(i)*dt < 5; i++ {
		props.Propagate(&st, dt, 0)
		t := float64(i) * dt
		if st.P[2] < 0.2 || st.P[0] < -0.5 {
			return false, 0
		}
		if t < r.cfg.ReactionS+0.05 || math.Hypot(st.P[0]-shoulder.P[0], st.P[2]-shoulder.P[2]) > r.reachM {
			continue
		}
		if r.meets(st, t-r.cfg.ReactionS, opt) {
			return true, t
		}
	}
	return false, 0
}

func (r *Reach) meets(st ball.State, budget float64, opt robot.IKOptions) bool {
	sp := math.Sqrt(st.V[0]*st.V[0] + st.V[1]*st.V[1] + st.V[2]*st.V[2])
	if sp < 1e-6 {
		return false
	}
	tgt := robot.IKTarget{Pos: st.P, Normal: [3]float64{-st.V[0] / sp, -st.V[1] / sp, -st.V[2] / sp}, NormalAxis: 1}
	lo, hi := r.rob.Limits.Lower[0], r.rob.Limits.Upper[0]
	for _, off := range [...]float64{0, -0.35, 0.35} {
		copy(r.seed, r.ready)
		rail := math.Max(lo, math.Min(hi, st.P[1]+off))
		r.seed[0] = rail
		r.seed[1] = math.Atan2(st.P[1]-rail, math.Max(st.P[0], 0.1))
		res := r.ik.Solve(r.seed, tgt, opt, r.q)
		if !res.OK {
			continue
		}
		if MoveTime(r.ready, r.q, r.rob.Limits.Vel, r.rob.Limits.Acc) <= budget {
			return true
		}
	}
	return false
}

// MoveTime is the shortest rest-to-rest time from q0 to q1 with every joint
// moving independently under its velocity and acceleration limits.
func MoveTime(q0, q1, vel, acc []float64) float64 {
	var worst float64
	for j := range q0 {
		d := math.Abs(q1[j] - q0[j])
		v, a := vel[j], acc[j]
		var t float64
		if d <= v*v/a {
			t = 2 * math.Sqrt(d/a)
		} else {
			t = d/v + v/a
		}
		worst = math.Max(worst, t)
	}
	return worst
}

// shoulder finds the chain frame of the third moving joint (the shoulder
// pitch of the shipped rail + arm) and an upper bound of the tip's distance
// from it: the sum of the distances between consecutive frames beyond it,
// which revolute joints do not change. Chains with fewer than three joints,
// or with a prismatic joint beyond it, get no bound (+Inf).
func shoulder(c *robot.Chain, q []float64) (int, float64) {
	n := len(c.LinkNames())
	if c.DOF() < 3 {
		return 0, math.Inf(1)
	}
	base := make([]robot.Pose, n)
	for i := range base {
		c.FKLink(q, i, &base[i])
	}
	qq := append([]float64(nil), q...)
	qq[2] += 0.1
	var p robot.Pose
	idx := -1
	for i := 0; i < n && idx < 0; i++ {
		c.FKLink(qq, i, &p)
		if p.R != base[i].R {
			idx = i
		}
	}
	if idx < 0 {
		return 0, math.Inf(1)
	}
	var sum float64
	for i := idx + 1; i < n; i++ {
		sum += dist(base[i].P, base[i-1].P)
	}
	// Check that no later joint changes those distances (prismatic).
	for j := 3; j < len(q); j++ {
		copy(qq, q)
		qq[j] += 0.1
		var a, b robot.Pose
		var s2 float64
		for i := idx; i < n; i++ {
			c.FKLink(qq, i, &b)
			if i > idx {
				s2 += dist(a.P, b.P)
			}
			a = b
		}
		if math.Abs(s2-sum) > 1e-9 {
			return 0, math.Inf(1)
		}
	}
	return idx, sum + 1e-3
}

package control

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/robot"
)

// CollisionConfig configures the collision check of the safety layer. The
// zero value means the defaults on each field: checks on, 0.01 m margin,
// floor at z = 0, pairs at least 3 joints apart.
type CollisionConfig struct {
	// Off turns the collision check off. Default false.
	Off bool `yaml:"off"`
	// MarginM is the clearance every capsule must keep from the floor and
	// from the other capsules, m. Default 0.01; negative values are
	// rejected.
	MarginM float64 `yaml:"margin_m"`
	// FloorZ is the floor's height in the chain's base frame, m. Default 0:
	// the shipped robot's world frame lies on the floor.
	FloorZ float64 `yaml:"floor_z_m"`
	// MinJointGap: two capsules are checked against each other when at least
	// this many movable joints lie between their links along the chain.
	// Default 3: neighbours touch at their joint by construction, and an
	// arm's own joint limits keep links two joints apart clear of each other
	// (the IRB 120's elbow folds to +70°, its wrist to ±120°) where the
	// coarser capsules around them would already overlap. The head is still
	// checked against the elbow, the upper arm, link_1, the base and the
	// rail.
	MinJointGap int `yaml:"min_joint_gap"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c CollisionConfig) WithDefaults() CollisionConfig {
	if c.MarginM == 0 {
		c.MarginM = 0.01
	}
	if c.MinJointGap == 0 {
		c.MinJointGap = 3
	}
	return c
}

// Validate reports the first bad field by its YAML name.
func (c CollisionConfig) Validate() error {
	c = c.WithDefaults()
	if !(c.MarginM >= 0 && c.MarginM <= 0.5) {
		return fmt.Errorf("safety: collision.margin_m = %v: want [0, 0.5] m (0 for the default 0.01)", c.MarginM)
	}
	if !finite(c.FloorZ) || math.Abs(c.FloorZ) > 100 {
		return fmt.Errorf("safety: collision.floor_z_m = %v: want a finite height within ±100 m", c.FloorZ)
	}
	if c.MinJointGap < 1 || c.MinJointGap > 64 {
		return fmt.Errorf("safety: collision.min_joint_gap = %d: want 1..64 (0 for the default 3)", c.MinJointGap)
	}
	return nil
}

// Collider checks a joint configuration for contact: every capsule of the
// URDF's collision geometry (robot.Chain.CollisionCapsules) against the
// floor and against the capsules of links at least MinJointGap joints away
// (the rail beam, the base and the arm's own links; the head against the
// base). Static capsules (no movable joint before their link, such as the
// rail) are not checked against the floor. A Collider owns scratch memory
// and serves one goroutine; Check allocates nothing.
type Collider struct {
	cfg    CollisionConfig
	chain  *robot.Chain
	caps   []robot.LinkCapsule
	pairs  [][2]int32 // capsule index pairs to check
	floor  []int32    // capsules checked against the floor
	poses  []robot.Pose
	wa, wb [][3]float64 // capsule end points in the base frame
}

// NewCollider builds the checker for rob's chain from the collision geometry
// of its URDF. A robot without collision geometry gets a checker that finds
// nothing (NumCapsules says 0).
func NewCollider(cfg CollisionConfig, rob *robot.Robot) (*Collider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	caps, err := rob.Chain.CollisionCapsules(rob.Model)
	if err != nil {
		return nil, fmt.Errorf("safety: collision geometry: %w", err)
	}
	c := &Collider{
		cfg: cfg, chain: rob.Chain, caps: caps,
		poses: make([]robot.Pose, rob.Chain.NumLinks()),
		wa:    make([][3]float64, len(caps)), wb: make([][3]float64, len(caps)),
	}
	for i, ci := range caps {
		if ci.Seg > 0 {
			c.floor = append(c.floor, int32(i))
		}
		for j := i + 1; j < len(caps); j++ {
			gap := caps[j].Seg - ci.Seg
			if gap < 0 {
				gap = -gap
			}
			if gap >= cfg.MinJointGap {
				c.pairs = append(c.pairs, [2]int32{int32(i), int32(j)})
			}
		}
	}
	return c, nil
}

// NumCapsules is the number of capsules checked.
func (c *Collider) NumCapsules() int { return len(c.caps) }

// NumPairs is the number of capsule pairs checked against each other.
func (c *Collider) NumPairs() int { return len(c.pairs) }

func (c *Collider) place(q []float64) {
	c.chain.FKLinks(q, c.poses)
	for i := range c.caps {
		cp := &c.caps[i]
		p := &c.poses[cp.ChainLink]
		c.wa[i] = apply(p, &cp.A)
		c.wb[i] = apply(p, &cp.B)
	}
}

func apply(p *robot.Pose, x *[3]float64) [3]float64 {
	var out [3]float64
	for r := 0; r < 3; r++ {
		out[r] = p.P[r] + p.R[r][0]*x[0] + p.R[r][1]*x[1] + p.R[r][2]*x[2]
	}
	return out
}

// Check reports whether any checked capsule comes closer than the margin to
// the floor or to another checked capsule at joint positions q.
func (c *Collider) Check(q []float64) bool {
	if len(c.caps) == 0 {
		return false
	}
	c.place(q)
	m := c.cfg.MarginM
	for _, i := range c.floor {
		low := c.wa[i][2]
		if c.wb[i][2] < low {
			low = c.wb[i][2]
		}
		if low-c.caps[i].Radius < c.cfg.FloorZ+m {
			return true
		}
	}
	for _, p := range c.pairs {
		i, j := p[0], p[1]
		r := c.caps[i].Radius + c.caps[j].Radius + m
		if segSegDist2(&c.wa[i], &c.wb[i], &c.wa[j], &c.wb[j]) < r*r {
			return true
		}
	}
	return false
}

// Clearance is the smallest gap found by Nearest: the distance between the
// surfaces of two capsules (or a capsule and the floor), m, negative when
// they overlap, and the links involved (B is "floor" for the floor).
type Clearance struct {
	DistM float64
	A, B  string
}

// Nearest returns the smallest clearance at q over every checked pair and
// the floor, without the margin. With no capsules DistM is +Inf.
func (c *Collider) Nearest(q []float64) Clearance {
	out := Clearance{DistM: math.Inf(1)}
	if len(c.caps) == 0 {
		return out
	}
	c.place(q)
	for _, i := range c.floor {
		d := math.Min(c.wa[i][2], c.wb[i][2]) - c.caps[i].Radius - c.cfg.FloorZ
		if d < out.DistM {
			out = Clearance{DistM: d, A: c.caps[i].Link, B: "floor"}
		}
	}
	for _, p := range c.pairs {
		i, j := p[0], p[1]
		d := math.Sqrt(segSegDist2(&c.wa[i], &c.wb[i], &c.wa[j], &c.wb[j])) - c.caps[i].Radius - c.caps[j].Radius
		if d < out.DistM {
			out = Clearance{DistM: d, A: c.caps[i].Link, B: c.caps[j].Link}
		}
	}
	return out
}

// segSegDist2 is the squared distance between segments p1–q1 and p2–q2
// (Ericson, Real-Time Collision Detection, 5.1.9), degenerate segments
// included.
func segSegDist2(p1, q1, p2, q2 *[3]float64) float64 {
	var d1, d2, r [3]float64
	for k := 0; k < 3; k++ {
		d1[k], d2[k], r[k] = q1[k]-p1[k], q2[k]-p2[k], p1[k]-p2[k]
	}
	a := dot3(&d1, &d1)
	e := dot3(&d2, &d2)
	f := dot3(&d2, &r)
	const eps = 1e-18
	var s, t float64
	switch {
	case a <= eps && e <= eps:
		return dot3(&r, &r)
	case a <= eps:
		t = clamp01(f / e)
	default:
		cc := dot3(&d1, &r)
		if e <= eps {
			s = clamp01(-cc / a)
		} else {
			b := dot3(&d1, &d2)
			den := a*e - b*b
			if den > eps {
				s = clamp01((b*f - cc*e) / den)
			}
			t = (b*s + f) / e
			if t < 0 {
				t, s = 0, clamp01(-cc/a)
			} else if t > 1 {
				t, s = 1, clamp01((b-cc)/a)
			}
		}
	}
	var d float64
	for k := 0; k < 3; k++ {
		x := p1[k] + d1[k]*s - p2[k] - d2[k]*t
		d += x * x
	}
	return d
}

func dot3(a, b *[3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// clamp01 clamps to [0, 1] without math.Max's NaN and signed-zero
// handling, which costs more than the rest of a pair test.
func clamp01(x float64) float64 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

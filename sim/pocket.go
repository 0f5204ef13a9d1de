package sim

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
)

// PocketConfig describes the lacrosse head's net as a compliant cup in the
// head frame (local y is the net normal pointing out of the opening, x runs
// along the stick, z across the head). Zero fields take the defaults.
type PocketConfig struct {
	// The opening ellipse's semi-axes come from the robot description
	// (robot.Config.Pocket).
	// DepthM is the pocket depth behind the opening; default 0.07 m.
	DepthM float64 `yaml:"depth_m"`
	// RimM is the width of the head's frame around the opening; a ball whose
	// centre crosses the opening plane over the rim bounces off; default 0.015 m.
	RimM float64 `yaml:"rim_m"`
	// StiffnessPerKg is the net's contact stiffness per unit ball mass
	// (1/s²); default 25000 (a 58 g ball is stopped in ≈10 ms).
	StiffnessPerKg float64 `yaml:"stiffness_per_kg"`
	// Restitution of the net (normal direction); default 0.2. It sets the
	// contact damping ratio.
	Restitution float64 `yaml:"restitution"`
	// RimRestitution of the head's frame; default 0.6.
	RimRestitution float64 `yaml:"rim_restitution"`
	// Friction is the tangential damping of the mesh while in contact, 1/s;
	// default 20.
	Friction float64 `yaml:"friction_per_s"`
	// HoldS is the catch rule: caught when the ball stays in the pocket
	// longer than this; default 0.25 s (the paper's sensor rule).
	HoldS float64 `yaml:"hold_s"`
}

func (c *PocketConfig) setDefaults() {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.DepthM, 0.07)
	def(&c.RimM, 0.015)
	def(&c.StiffnessPerKg, 25000)
	def(&c.Restitution, 0.2)
	def(&c.RimRestitution, 0.6)
	def(&c.Friction, 20)
	def(&c.HoldS, 0.25)
}

// Validate reports the first bad field.
func (c PocketConfig) Validate() error {
	for _, f := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"pocket.depth_m", c.DepthM, 0.01, 1}, {"pocket.rim_m", c.RimM, 0, 0.2},
		{"pocket.stiffness_per_kg", c.StiffnessPerKg, 100, 1e7},
		{"pocket.restitution", c.Restitution, 0.001, 0.99}, {"pocket.rim_restitution", c.RimRestitution, 0, 1},
		{"pocket.friction_per_s", c.Friction, 0, 1e4}, {"pocket.hold_s", c.HoldS, 0.01, 5},
	} {
		if math.IsNaN(f.v) || f.v < f.lo || f.v > f.hi {
			return fmt.Errorf("%s: %v, want [%g, %g]", f.name, f.v, f.lo, f.hi)
		}
	}
	return nil
}

// HeadMotion is the head frame's pose and velocity in the world.
type HeadMotion struct {
	O ball.Vec      // origin (pocket centre), m
	R [3][3]float64 // columns: head axes in world
	V ball.Vec      // origin velocity, m/s
	W ball.Vec      // angular velocity, rad/s
}

// toLocal returns p − O and a world vector's components in head axes.
func (h *HeadMotion) toLocal(v ball.Vec) ball.Vec {
	return ball.Vec{
		h.R[0][0]*v[0] + h.R[1][0]*v[1] + h.R[2][0]*v[2],
		h.R[0][1]*v[0] + h.R[1][1]*v[1] + h.R[2][1]*v[2],
		h.R[0][2]*v[0] + h.R[1][2]*v[1] + h.R[2][2]*v[2],
	}
}

func (h *HeadMotion) toWorld(v ball.Vec) ball.Vec {
	return ball.Vec{
		h.R[0][0]*v[0] + h.R[0][1]*v[1] + h.R[0][2]*v[2],
		h.R[1][0]*v[0] + h.R[1][1]*v[1] + h.R[1][2]*v[2],
		h.R[2][0]*v[0] + h.R[2][1]*v[1] + h.R[2][2]*v[2],
	}
}

// relative returns the ball's position and velocity relative to the head,
// in head axes.
func (h *HeadMotion) relative(b *ball.State) (p, v ball.Vec) {
	d := ball.Vec{b.P[0] - h.O[0], b.P[1] - h.O[1], b.P[2] - h.O[2]}
	// velocity of the head point coincident with the ball
	wxd := ball.Vec{h.W[1]*d[2] - h.W[2]*d[1], h.W[2]*d[0] - h.W[0]*d[2], h.W[0]*d[1] - h.W[1]*d[0]}
	rv := ball.Vec{b.V[0] - h.V[0] - wxd[0], b.V[1] - h.V[1] - wxd[1], b.V[2] - h.V[2] - wxd[2]}
	return h.toLocal(d), h.toLocal(rv)
}

// Pocket is the net's contact model and the catch judge for one trial.
type Pocket struct {
	cfg    PocketConfig
	open   robot.Pocket
	radius float64
	zeta   float64

	inside  bool
	prevL   ball.Vec // previous local position
	hasPrev bool
	since   float64 // time the ball entered the pocket
	// Caught is set once the ball has stayed in the pocket longer than HoldS.
	Caught    bool
	CaughtAt  float64
	EnteredAt float64 // first entry time, −1 if never
	RimHits   int
	Exits     int
}

// NewPocket returns a pocket for a ball of the given radius.
func NewPocket(cfg PocketConfig, opening robot.Pocket, radius float64) (*Pocket, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if radius <= 0 || radius >= opening.Across || radius >= opening.Along || radius >= cfg.DepthM {
		return nil, fmt.Errorf("pocket: a ball of radius %v m does not fit the opening (semi-axes %v × %v m, depth %v m)", radius, opening.Along, opening.Across, cfg.DepthM)
	}
	l := math.Log(cfg.Restitution)
	p := &Pocket{cfg: cfg, open: opening, radius: radius, zeta: -l / math.Sqrt(math.Pi*math.Pi+l*l)}
	p.Reset()
	return p, nil
}

// Reset clears the judge for a new trial.
func (p *Pocket) Reset() {
	p.inside, p.hasPrev, p.Caught = false, false, false
	p.EnteredAt, p.CaughtAt, p.RimHits, p.Exits = -1, 0, 0, 0
}

// Inside reports whether the ball is in the pocket now.
func (p *Pocket) Inside() bool { return p.inside }

// Interact applies the net's contact to the ball over one step of dt ending
// at time t (the ball has already been advanced to t) and updates the judge.
func (p *Pocket) Interact(t, dt float64, h *HeadMotion, b *ball.State) {
	lp, lv := h.relative(b)
	prev := p.prevL
	hadPrev := p.hasPrev
	p.prevL, p.hasPrev = lp, true
	A, B := p.open.Along, p.open.Across
	r := p.radius
	if !p.inside {
		if !hadPrev || !(prev[1] > 0 && lp[1] <= 0) {
			return
		}
		f := prev[1] / (prev[1] - lp[1])
		u := prev[0] + f*(lp[0]-prev[0])
		w := prev[2] + f*(lp[2]-prev[2])
		ea := (u*u)/((A-r)*(A-r)) + (w*w)/((B-r)*(B-r))
		if ea <= 1 {
			p.inside = true
			p.since = t
			if p.EnteredAt < 0 {
				p.EnteredAt = t
			}
			return
		}
		er := (u*u)/((A+p.cfg.RimM)*(A+p.cfg.RimM)) + (w*w)/((B+p.cfg.RimM)*(B+p.cfg.RimM))
		if er <= 1 && lv[1] < 0 {
			// Hits the frame: reflect the normal component, put the ball
			// back in front of the opening plane.
			p.RimHits++
			dv := h.toWorld(ball.Vec{0, -(1 + p.cfg.RimRestitution) * lv[1], 0})
			shift := h.toWorld(ball.Vec{0, -lp[1] + 1e-4, 0})
			for i := 0; i < 3; i++ {
				b.V[i] += dv[i]
				b.P[i] += shift[i]
			}
			p.prevL[1] = 1e-4
		}
		return
	}
	if lp[1] > 0 {
		// Left through the opening.
		p.inside = false
		p.Exits++
		return
	}
	// Contact with the shrunk ellipsoid the ball's centre may move in.
	a, c, d := A-r, B-r, p.cfg.DepthM-r
	if d < 0.2*r {
		d = 0.2 * r
	}
	rho := math.Sqrt(lp[0]*lp[0]/(a*a) + lp[1]*lp[1]/(d*d) + lp[2]*lp[2]/(c*c))
	if rho > 1 {
		g := ball.Vec{lp[0] / (a * a * rho), lp[1] / (d * d * rho), lp[2] / (c * c * rho)}
		gn := math.Sqrt(g[0]*g[0] + g[1]*g[1] + g[2]*g[2])
		n := ball.Vec{g[0] / gn, g[1] / gn, g[2] / gn}
		delta := (rho - 1) / gn
		k := p.cfg.StiffnessPerKg
		cdamp := 2 * p.zeta * math.Sqrt(k)
		vn := lv[0]*n[0] + lv[1]*n[1] + lv[2]*n[2]
		fn := k*delta + cdamp*vn // magnitude pushing inward (per kg)
		if fn < 0 {
			fn = 0
		}
		acc := ball.Vec{-fn * n[0], -fn * n[1], -fn * n[2]}
		ft := p.cfg.Friction
		for i := 0; i < 3; i++ {
			acc[i] -= ft * (lv[i] - vn*n[i])
		}
		aw := h.toWorld(acc)
		for i := 0; i < 3; i++ {
			b.V[i] += aw[i] * dt
			b.P[i] += aw[i] * dt * dt
		}
	}
	if !p.Caught && t-p.since > p.cfg.HoldS {
		p.Caught, p.CaughtAt = true, t
	}
}

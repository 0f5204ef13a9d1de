package ball

import (
	"fmt"
	"math"
)

// Vec is a 3-vector in the world frame.
type Vec = [3]float64

// State is the ball's kinematic state.
type State struct {
	P Vec // position, m
	V Vec // velocity, m/s
	W Vec // spin (angular velocity), rad/s
}

// StandardGravity is g in m/s² used when Props.Gravity is zero.
const StandardGravity = 9.80665

// StandardAirDensity is ρ in kg/m³ (sea level, 20 °C) used when Props.AirDensity is zero.
const StandardAirDensity = 1.204

// Props are a ball's physical properties. The zero Gravity and AirDensity mean
// the standard values above.
type Props struct {
	Name       string  `yaml:"name" json:"name"`
	Mass       float64 `yaml:"mass_kg" json:"mass_kg"`                   // kg
	Radius     float64 `yaml:"radius_m" json:"radius_m"`                 // m
	Cd         float64 `yaml:"drag_coefficient" json:"drag_coefficient"` // C_d
	Cl         float64 `yaml:"lift_coefficient" json:"lift_coefficient"` // C_l in the spin-parameter form (see package doc)
	SpinDecay  float64 `yaml:"spin_decay_per_s" json:"spin_decay_per_s"` // c, 1/s
	AirDensity float64 `yaml:"air_density_kgm3,omitempty" json:"air_density_kgm3,omitempty"`
	Gravity    float64 `yaml:"gravity_mps2,omitempty" json:"gravity_mps2,omitempty"`
}

// Validate reports the first bad field.
func (p Props) Validate() error {
	check := func(name string, v float64, lo, hi float64) error {
		if math.IsNaN(v) || v < lo || v > hi {
			return fmt.Errorf("ball %q: %s = %v, want a number in [%g, %g]", p.Name, name, v, lo, hi)
		}
		return nil
	}
	for _, c := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"mass_kg", p.Mass, 1e-4, 10},
		{"radius_m", p.Radius, 1e-3, 1},
		{"drag_coefficient", p.Cd, 0, 5},
		{"lift_coefficient", p.Cl, 0, 10},
		{"spin_decay_per_s", p.SpinDecay, 0, 100},
		{"air_density_kgm3", p.AirDensity, 0, 10},
		{"gravity_mps2", p.Gravity, 0, 100},
	} {
		if err := check(c.name, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	return nil
}

// Coeffs returns the drag and lift factors k_d (1/m, negative) and k_l of
// the package doc, and g (m/s², positive).
func (p *Props) Coeffs() (kd, kl, g float64) {
	rho := p.AirDensity
	if rho == 0 {
		rho = StandardAirDensity
	}
	g = p.Gravity
	if g == 0 {
		g = StandardGravity
	}
	area := math.Pi * p.Radius * p.Radius
	kd = -0.5 * rho * p.Cd * area / p.Mass
	kl = 0.5 * rho * p.Cl * area * p.Radius / p.Mass
	return kd, kl, g
}

// Accel returns the ball's acceleration at velocity v and spin w.
func (p *Props) Accel(v, w Vec) Vec {
	kd, kl, g := p.Coeffs()
	return accel(kd, kl, g, v, w)
}

func accel(kd, kl, g float64, v, w Vec) Vec {
	s := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	return Vec{
		kd*s*v[0] + kl*(w[1]*v[2]-w[2]*v[1]),
		kd*s*v[1] + kl*(w[2]*v[0]-w[0]*v[2]),
		kd*s*v[2] + kl*(w[0]*v[1]-w[1]*v[0]) - g,
	}
}

// MaxStep is the largest integration step Propagate takes, s.
const MaxStep = 1e-3

// Step advances s by dt seconds with one classical RK4 step. Spin decays
// exactly (exp(−c·dt)); within the step the spin is taken at its midpoint
// value, which is exact to O(c·dt)² and c·dt ≤ 1e-4 at 1 ms steps.
func (p *Props) Step(s *State, dt float64) {
	kd, kl, g := p.Coeffs()
	step(kd, kl, g, p.SpinDecay, s, dt)
}

func step(kd, kl, g, decay float64, s *State, dt float64) {
	wm := s.W
	if decay != 0 {
		f := math.Exp(-decay * dt / 2)
		wm = Vec{s.W[0] * f, s.W[1] * f, s.W[2] * f}
	}
	v1 := s.V
	a1 := accel(kd, kl, g, v1, s.W)
	v2 := add(s.V, a1, dt/2)
	a2 := accel(kd, kl, g, v2, wm)
	v3 := add(s.V, a2, dt/2)
	a3 := accel(kd, kl, g, v3, wm)
	v4 := add(s.V, a3, dt)
	w4 := s.W
	if decay != 0 {
		f := math.Exp(-decay * dt)
		w4 = Vec{s.W[0] * f, s.W[1] * f, s.W[2] * f}
	}
	a4 := accel(kd, kl, g, v4, w4)
	for i := 0; i < 3; i++ {
		s.P[i] += dt / 6 * (v1[i] + 2*v2[i] + 2*v3[i] + v4[i])
		s.V[i] += dt / 6 * (a1[i] + 2*a2[i] + 2*a3[i] + a4[i])
	}
	s.W = w4
}

func add(a, b Vec, f float64) Vec {
	return Vec{a[0] + f*b[0], a[1] + f*b[1], a[2] + f*b[2]}
}

// Propagate advances s by t seconds (t ≥ 0) in equal RK4 steps of at most
// maxStep (MaxStep when maxStep ≤ 0).
func (p *Props) Propagate(s *State, t, maxStep float64) {
	if t <= 0 {
		return
	}
	if maxStep <= 0 || maxStep > MaxStep {
		maxStep = MaxStep
	}
	n := int(math.Ceil(t/maxStep - 1e-9))
	if n < 1 {
		n = 1
	}
	dt := t / float64(n)
	kd, kl, g := p.Coeffs()
	for i := 0; i < n; i++ {
		step(kd, kl, g, p.SpinDecay, s, dt)
	}
}

// Estimate is a ball state estimate with its covariance, as the estimator
// publishes it and the controllers read it. The zero value is "no estimate".
type Estimate struct {
	Valid bool
	T     float64 // time the state refers to, s (trial clock)
	State State   // spin is zero when the estimator does not estimate it
	// Cov is the covariance of (P, V), row-major 6×6, m² and (m/s)².
	Cov [36]float64
	// CovW is the spin's covariance (3×3 row-major, (rad/s)²) and CovXW its
	// cross-covariance with (P, V) (6×3 row-major), when the estimator tracks
	// the spin; both zero otherwise.
	CovW  [9]float64
	CovXW [18]float64
	// NObs is the number of observations the estimate rests on.
	NObs int
}

package ball

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func tennis(t testing.TB) Props {
	p, err := ByName("tennis")
	require.NoError(t, err)
	return p
}

// The drag-free, spin-free flight is a parabola; RK4 integrates a quadratic
// exactly, so only rounding remains.
func TestPropagateParabola(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := Props{Name: "vacuum", Mass: 0.058, Radius: 0.0335}
	_, _, g := p.Coeffs()
	for i := 0; i < 50; i++ {
		s0 := State{
			P: Vec{rng.Float64()*4 - 2, rng.Float64()*4 - 2, rng.Float64() * 2},
			V: Vec{rng.Float64()*20 - 10, rng.Float64()*20 - 10, rng.Float64()*20 - 10},
		}
		tf := 0.1 + rng.Float64()
		s := s0
		p.Propagate(&s, tf, 0)
		for k := 0; k < 3; k++ {
			wantP := s0.P[k] + s0.V[k]*tf
			wantV := s0.V[k]
			if k == 2 {
				wantP -= 0.5 * g * tf * tf
				wantV -= g * tf
			}
			// ~1000 steps of rounding at |p| ≲ 10 m.
			require.InDelta(t, wantP, s.P[k], 1e-12, "throw %d axis %d position", i, k)
			require.InDelta(t, wantV, s.V[k], 1e-12, "throw %d axis %d velocity", i, k)
		}
	}
}

// Falling from rest with drag: v(t) = v_t·tanh(g t/v_t), z(t) = −(v_t²/g)·ln cosh(g t/v_t),
// v_t = sqrt(g/|k_d|).
func TestPropagateTerminalVelocity(t *testing.T) {
	for _, p := range Sets() {
		t.Run(p.Name, func(t *testing.T) {
			kd, _, g := p.Coeffs()
			vt := math.Sqrt(g / -kd)
			for _, tf := range []float64{0.5, 1, 2} {
				s := State{}
				p.Propagate(&s, tf, 0)
				x := g * tf / vt
				// RK4 at 1 ms: local error ~(g·h)^5 terms, far below 1e-9 relative.
				require.InEpsilon(t, -vt*math.Tanh(x), s.V[2], 1e-9, "v at %g s", tf)
				require.InEpsilon(t, -vt*vt/g*math.Log(math.Cosh(x)), s.P[2], 1e-9, "z at %g s", tf)
			}
			// Long fall: the transient decays as 2·exp(−2gt/v_t); 20 time
			// constants leave ~1e-17 of it.
			s := State{}
			p.Propagate(&s, 10*vt/g, 0)
			require.InEpsilon(t, -vt, s.V[2], 1e-6, "terminal velocity")
		})
	}
}

// Magnus: the lift acceleration is k_l(ω × v); compare a spinning with a
// non-spinning flight over 0.5 s.
func TestMagnusDeflection(t *testing.T) {
	p := tennis(t)
	v0 := Vec{-4.5, 0, 2} // toward the robot (−x), rising
	const w = 60.0        // rad/s, ≈ 10 rev/s
	for _, tc := range []struct {
		name  string
		w     Vec
		axis  int     // axis that must deflect
		sign  float64 // its direction
		still int     // axis that must not move
		tol   float64 // m, allowed change along still
	}{
		// Moving −x, topspin turns the ball's top toward −x: ω_y < 0, and
		// ω×v = (ω_y v_z, 0, −ω_y v_x) points down. y is untouched exactly.
		{"topspin pushes down", Vec{0, -w, 0}, 2, -1, 1, 0},
		{"backspin pushes up", Vec{0, w, 0}, 2, +1, 1, 0},
		// ω = ±z: ω×v = (0, ω_z v_x, 0), i.e. −y for +z spin when v_x < 0.
		// z changes only through |v| in the drag term (second order).
		{"sidespin +z deflects along ω×v", Vec{0, 0, w}, 1, math.Copysign(1, cross(Vec{0, 0, w}, v0)[1]), 2, 1e-3},
		{"sidespin -z deflects along ω×v", Vec{0, 0, -w}, 1, math.Copysign(1, cross(Vec{0, 0, -w}, v0)[1]), 2, 1e-3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := State{V: v0}
			spun := State{V: v0, W: tc.w}
			p.Propagate(&plain, 0.5, 0)
			p.Propagate(&spun, 0.5, 0)
			d := spun.P[tc.axis] - plain.P[tc.axis]
			// k_l·ω·|v| ≈ 1.2e-3·60·4.9 ≈ 0.36 m/s² → ≈ 4 cm over 0.5 s; demand ≥ 1 cm.
			require.Greater(t, tc.sign*d, 0.01, "deflection %g m along axis %d", d, tc.axis)
			require.InDelta(t, plain.P[tc.still], spun.P[tc.still], tc.tol, "axis %d", tc.still)
		})
	}
	// The sign table above: +z sidespin with v_x < 0 pushes toward −y.
	require.Less(t, cross(Vec{0, 0, w}, v0)[1], 0.0)
}

func cross(a, b Vec) Vec {
	return Vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func TestSpinDecay(t *testing.T) {
	for _, p := range Sets() {
		w0 := Vec{10, -20, 30}
		s := State{V: Vec{-4.5, 0, 3}, W: w0}
		const tf = 0.87
		p.Propagate(&s, tf, 0)
		f := math.Exp(-p.SpinDecay * tf)
		for k := 0; k < 3; k++ {
			// Exact per step: only rounding of 870 products.
			require.InEpsilon(t, w0[k]*f, s.W[k], 1e-12, "%s axis %d", p.Name, k)
		}
	}
}

// Halving the step of a fourth-order method divides the global error by ≈16.
func TestRK4Convergence(t *testing.T) {
	p, err := ByName("foam") // strongest drag and lift: largest truncation error
	require.NoError(t, err)
	s0 := State{P: Vec{3.9, 0, 0.5}, V: Vec{-6, 1, 4}, W: Vec{20, -60, 90}}
	const tf = 1.0
	run := func(n int) State {
		s := s0
		for i := 0; i < n; i++ {
			p.Step(&s, tf/float64(n))
		}
		return s
	}
	ref := run(20000) // h = 50 µs: error ~(1/400)^4 of h = 20 ms, negligible
	errAt := func(n int) float64 {
		s := run(n)
		var e float64
		for k := 0; k < 3; k++ {
			e = math.Max(e, math.Abs(s.P[k]-ref.P[k]))
			e = math.Max(e, math.Abs(s.V[k]-ref.V[k]))
		}
		return e
	}
	for _, n := range []int{10, 20, 40} {
		e1, e2 := errAt(n), errAt(2*n)
		ratio := e1 / e2
		// Asymptotically 16; the leading term dominates already at h ≤ 0.1 s.
		require.InDelta(t, 16, ratio, 3, "n=%d: errors %g, %g", n, e1, e2)
	}
}

func TestPropagateAllocs(t *testing.T) {
	p := tennis(t)
	s := State{P: Vec{3.9, 0, 0.5}, V: Vec{-4.5, 0, 3.8}, W: Vec{0, 30, 0}}
	allocs := testing.AllocsPerRun(100, func() { p.Propagate(&s, 0.1, 0) })
	require.Zero(t, allocs)
}

func TestPropsValidate(t *testing.T) {
	good := Props{Name: "x", Mass: 0.058, Radius: 0.0335, Cd: 0.55, Cl: 1}
	require.NoError(t, good.Validate())
	for _, tc := range []struct {
		field string
		edit  func(*Props)
	}{
		{"mass_kg", func(p *Props) { p.Mass = 0 }},
		{"mass_kg", func(p *Props) { p.Mass = -1 }},
		{"radius_m", func(p *Props) { p.Radius = math.NaN() }},
		{"drag_coefficient", func(p *Props) { p.Cd = -0.1 }},
		{"lift_coefficient", func(p *Props) { p.Cl = 11 }},
		{"spin_decay_per_s", func(p *Props) { p.SpinDecay = -1 }},
		{"air_density_kgm3", func(p *Props) { p.AirDensity = -1 }},
		{"gravity_mps2", func(p *Props) { p.Gravity = math.Inf(1) }},
	} {
		p := good
		tc.edit(&p)
		err := p.Validate()
		require.Error(t, err, tc.field)
		require.Contains(t, err.Error(), tc.field)
	}
}

func TestSets(t *testing.T) {
	s := Sets()
	require.Len(t, s, 4)
	names := SetNames()
	require.Equal(t, []string{"foam", "lacrosse", "table-tennis", "tennis"}, names)
	for _, p := range s {
		require.NoError(t, p.Validate(), p.Name)
		got, err := ByName(p.Name)
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
	// Sets returns a copy.
	s[0].Mass = 99
	require.NotEqual(t, 99.0, Sets()[0].Mass)

	_, err := ByName("golf")
	require.ErrorIs(t, err, ErrUnknownSet)
	for _, n := range names {
		require.Contains(t, err.Error(), n)
	}

	tt, err := ByName("table-tennis")
	require.NoError(t, err)
	kd, kl, g := tt.Coeffs()
	// MPI-IS ball_models: k_d = −½·1.18·0.47016899·π·0.02²/0.0027 ≈ −0.1291 1/m.
	require.InEpsilon(t, -0.5*1.18*0.47016899*math.Pi*0.0004/0.0027, kd, 1e-12)
	require.InEpsilon(t, 0.5*1.18*1.46968343*math.Pi*0.0004*0.02/0.0027, kl, 1e-12)
	require.Equal(t, 9.80801, g)
}

func TestParseProps(t *testing.T) {
	tn := tennis(t)
	for _, tc := range []struct {
		name, in string
		want     func() Props
		errHas   string
	}{
		{name: "set name", in: "tennis", want: func() Props { return tn }},
		{name: "set with override", in: "name: tennis\ndrag_coefficient: 0.6\n",
			want: func() Props { p := tn; p.Cd = 0.6; return p }},
		{name: "custom", in: "name: golf\nmass_kg: 0.0459\nradius_m: 0.02135\ndrag_coefficient: 0.25\nlift_coefficient: 0.5\n",
			want: func() Props { return Props{Name: "golf", Mass: 0.0459, Radius: 0.02135, Cd: 0.25, Cl: 0.5} }},
		{name: "unknown key", in: "name: tennis\nmass: 1\n", errHas: "unknown field"},
		{name: "unknown set", in: "golf", errHas: "tennis"},
		{name: "invalid custom", in: "name: golf\nradius_m: 0.02\n", errHas: "mass_kg"},
		{name: "invalid override", in: "name: tennis\ngravity_mps2: -9.8\n", errHas: "gravity_mps2"},
		{name: "empty", in: "", errHas: "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProps(strings.NewReader(tc.in))
			if tc.errHas != "" {
				require.ErrorContains(t, err, tc.errHas)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want(), got)
		})
	}

	// Embedded in a larger config.
	var cfg struct {
		Ball Props `yaml:"ball"`
	}
	require.NoError(t, yaml.Unmarshal([]byte("ball: {name: foam, mass_kg: 0.025}\n"), &cfg))
	want, _ := ByName("foam")
	want.Mass = 0.025
	require.Equal(t, want, cfg.Ball)
}

func BenchmarkPropagate1s(b *testing.B) {
	p, _ := ByName("tennis")
	s0 := State{P: Vec{3.9, 0, 0.5}, V: Vec{-4.5, 0, 3.8}, W: Vec{0, 30, 0}}
	b.ReportAllocs()
	for b.Loop() {
		s := s0
		p.Propagate(&s, 1, 0)
	}
}

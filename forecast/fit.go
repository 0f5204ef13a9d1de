package forecast

import (
	"math"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/internal/dense"
)

// CondDim is the length of the condition vector the interpolant is trained on (see Cond).
const CondDim = 9

// propStep is the largest RK4 step used to extrapolate and back-propagate flights here, s.
// At 10 ms the drag/Magnus RK4 error is below 1 µm over 0.6 s for every ball set.
const propStep = 0.01

// Fit is a window fit of the recent observations. P and V (at Now) fit the drag model of
// package ball without spin, y(t) = D(t−Now; P, V): the reference the forecast residual is
// taken from. E is the constant extra acceleration of a second fit, y(t) = D(t−Now; P′, V′)
// + ½·E·(t−Now)²: it absorbs what the drag model misses (Magnus lift from an unknown spin, a
// wrong drag coefficient) and is how the condition tells a spinning ball from a plain one.
type Fit struct {
	P, V, E ball.Vec // at Now: m, m/s, m/s²
	RMS     float64  // residual RMS of the drag-only fit, m
	Span    float64  // Now − oldest observation used, s
	Age     float64  // Now − newest observation, s
	N       int      // observations used
}

// FitConfig bounds the window.
type FitConfig struct {
	// MaxObs is the most recent observations used; default 64 (0.5 s at 125 Hz).
	MaxObs int `yaml:"max_obs" json:"max_obs"`
	// MinObs is the fewest observations a fit needs; default 5.
	MinObs int `yaml:"min_obs" json:"min_obs"`
	// MaxSpan drops observations older than this before Now, s; default 0.5.
	MaxSpan float64 `yaml:"max_span_s" json:"max_span_s"`
}

// WithDefaults fills zero fields.
func (c FitConfig) WithDefaults() FitConfig {
	if c.MaxObs == 0 {
		c.MaxObs = 64
	}
	if c.MinObs == 0 {
		c.MinObs = 5
	}
	if c.MaxSpan == 0 {
		c.MaxSpan = 0.5
	}
	return c
}

// window returns the observations FitWindow uses: the newest MaxObs with capture time in
// [now−MaxSpan, now].
func (c FitConfig) window(hist []Obs, now float64) []Obs {
	end := len(hist)
	for end > 0 && hist[end-1].T > now {
		end--
	}
	start := end
	for start > 0 && end-start < c.MaxObs && hist[start-1].T >= now-c.MaxSpan {
		start--
	}
	return hist[start:end]
}

// FitWindow fits the window of hist at now (see Fit); ok is false with fewer than MinObs
// observations or a degenerate window. It does not allocate.
func FitWindow(props *ball.Props, cfg FitConfig, hist []Obs, now float64) (f Fit, ok bool) {
	cfg = cfg.WithDefaults()
	w := cfg.window(hist, now)
	m := len(w)
	if m < cfg.MinObs {
		return f, false
	}
	// Normal equations of the per-axis design φ = (1, τ, ½τ²), shared by all axes.
	var a [3][3]float64
	for i := range w {
		tau := w[i].T - now
		phi := [3]float64{1, tau, 0.5 * tau * tau}
		for r := 0; r < 3; r++ {
			for c := 0; c < 3; c++ {
				a[r][c] += phi[r] * phi[c]
			}
		}
	}
	ai, good := dense.Inv3(&a)
	if !good {
		return f, false
	}
	solve := func(res func(i int) ball.Vec) (dp, dv, da ball.Vec) {
		var rhs [3]ball.Vec
		for i := range w {
			tau := w[i].T - now
			phi := [3]float64{1, tau, 0.5 * tau * tau}
			r := res(i)
			for j := 0; j < 3; j++ {
				for k := 0; k < 3; k++ {
					rhs[j][k] += phi[j] * r[k]
				}
			}
		}
		for k := 0; k < 3; k++ {
			for j := 0; j < 3; j++ {
				dp[k] += ai[0][j] * rhs[j][k]
				dv[k] += ai[1][j] * rhs[j][k]
				da[k] += ai[2][j] * rhs[j][k]
			}
		}
		return
	}
	// Start: a free quadratic; the extra acceleration is what the drag model does not explain.
	p, v, acc := solve(func(i int) ball.Vec { return w[i].P })
	g := props.Accel(v, ball.Vec{})
	e := ball.Vec{acc[0] - g[0], acc[1] - g[1], acc[2] - g[2]}
	var d [64 + 1]ball.Vec // model positions at the window's times (MaxObs ≤ 64 keeps this on the stack)
	var dd []ball.Vec
	if m <= 64 {
		dd = d[:m]
	} else {
		dd = make([]ball.Vec, m)
	}
	model := func() {
		// Back-propagate (P, V) from now through the window, newest first.
		s := ball.State{P: p, V: v}
		t := now
		for i := m - 1; i >= 0; i-- {
			stepTo(props, &s, t, w[i].T)
			t = w[i].T
			tau := t - now
			for k := 0; k < 3; k++ {
				dd[i][k] = s.P[k] + 0.5*e[k]*tau*tau
			}
		}
	}
	for it := 0; it < 3; it++ {
		model()
		dp, dv, de := solve(func(i int) ball.Vec {
			return ball.Vec{w[i].P[0] - dd[i][0], w[i].P[1] - dd[i][1], w[i].P[2] - dd[i][2]}
		})
		for k := 0; k < 3; k++ {
			p[k] += dp[k]
			v[k] += dv[k]
			e[k] += de[k]
		}
	}
	eJoint := e
	// The reference: the drag model alone through the window (P, V by Gauss–Newton with
	// the same approximate Jacobian), which has the estimator's low variance; the joint
	// fit's E rides along as the evidence of unmodelled force for the network to weigh.
	e = ball.Vec{}
	var b [2][2]float64
	for i := range w {
		tau := w[i].T - now
		b[0][0]++
		b[0][1] += tau
		b[1][1] += tau * tau
	}
	det := b[0][0]*b[1][1] - b[0][1]*b[0][1]
	if !(det > 0) {
		return f, false
	}
	for it := 0; it < 3; it++ {
		model()
		var r0, r1 ball.Vec
		for i := range w {
			tau := w[i].T - now
			for k := 0; k < 3; k++ {
				r := w[i].P[k] - dd[i][k]
				r0[k] += r
				r1[k] += tau * r
			}
		}
		for k := 0; k < 3; k++ {
			p[k] += (b[1][1]*r0[k] - b[0][1]*r1[k]) / det
			v[k] += (b[0][0]*r1[k] - b[0][1]*r0[k]) / det
		}
	}
	model()
	var ss float64
	for i := range w {
		for k := 0; k < 3; k++ {
			r := w[i].P[k] - dd[i][k]
			ss += r * r
		}
	}
	f = Fit{P: p, V: v, E: eJoint, RMS: math.Sqrt(ss / float64(3*m)), Span: now - w[0].T, Age: now - w[m-1].T, N: m}
	for k := 0; k < 3; k++ {
		if !finite(p[k]) || !finite(v[k]) || !finite(eJoint[k]) {
			return f, false
		}
	}
	// A window that no ball flight explains (a diverged fit) is not a condition.
	if !finite(f.RMS) || v[0]*v[0]+v[1]*v[1]+v[2]*v[2] > 100*100 {
		return f, false
	}
	return f, true
}

// stepTo integrates s from t0 to t1 (either direction) in RK4 steps of at most propStep.
func stepTo(props *ball.Props, s *ball.State, t0, t1 float64) {
	dt := t1 - t0
	if dt == 0 {
		return
	}
	n := int(math.Ceil(math.Abs(dt)/propStep - 1e-9))
	h := dt / float64(n)
	for j := 0; j < n; j++ {
		props.Step(s, h)
	}
}

// Frame is the heading frame of a fit: origin at the fitted position, x' along the
// horizontal velocity, z' up. Gravity, drag and Magnus lift do not change under it, so a
// model trained on throws toward −x serves throws in any direction.
type Frame struct {
	C, S float64 // cos and sin of the heading
}

// NewFrame returns the heading frame of velocity v.
func NewFrame(v ball.Vec) Frame {
	h := math.Hypot(v[0], v[1])
	if h < 1e-9 {
		return Frame{C: 1}
	}
	return Frame{C: v[0] / h, S: v[1] / h}
}

// ToLocal rotates a world vector into the frame.
func (f Frame) ToLocal(x ball.Vec) ball.Vec {
	return ball.Vec{f.C*x[0] + f.S*x[1], -f.S*x[0] + f.C*x[1], x[2]}
}

// ToWorld rotates a frame vector into the world.
func (f Frame) ToWorld(x ball.Vec) ball.Vec {
	return ball.Vec{f.C*x[0] - f.S*x[1], f.S*x[0] + f.C*x[1], x[2]}
}

// Cond writes the condition vector of a fit (unnormalised, length CondDim): horizontal
// speed, vertical speed (m/s), the extra acceleration in the heading frame (m/s²), the window
// span (s), the fraction of a full window, the age of the newest observation (s) and the fit
// RMS (mm).
func (f *Fit) Cond(maxObs int, dst []float64) {
	fr := NewFrame(f.V)
	e := fr.ToLocal(f.E)
	dst[0] = math.Hypot(f.V[0], f.V[1])
	dst[1] = f.V[2]
	dst[2], dst[3], dst[4] = e[0], e[1], e[2]
	dst[5] = f.Span
	dst[6] = float64(f.N) / float64(maxObs)
	dst[7] = f.Age
	dst[8] = f.RMS * 1000
}

// Reference writes the drag-model extrapolation of the fit (no spin, no extra acceleration)
// at horizons Dt…H·Dt after Now into dst (H×3, m).
func Reference(props *ball.Props, f *Fit, dt float64, h int, dst []float64) {
	s := ball.State{P: f.P, V: f.V}
	for i := 0; i < h; i++ {
		stepTo(props, &s, 0, dt)
		copy(dst[i*3:i*3+3], s.P[:])
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

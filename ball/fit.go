package ball

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/agilecatch/catch/internal/dense"
)

// Track is one recorded free flight (no bounce or hit inside): capture times (s,
// increasing) and observed positions (m, world frame).
type Track struct {
	Name string
	T    []float64
	P    []Vec
}

// FitConfig configures Fit. The zero value means the defaults.
type FitConfig struct {
	// FixGravity keeps the base set's g instead of fitting it. By default g is fitted too:
	// it absorbs a scale error of the tracker's calibration or clock (recorded sets show
	// −9.3 to −10.3 m/s²), which a forecast of those observations must reproduce.
	FixGravity bool
	// SpinPriorStd regularises each flight's spin, rad/s per component (the spin along the
	// velocity has no effect and would otherwise be undetermined); default 300.
	SpinPriorStd float64
	// Gate drops observations whose residual norm exceeds Gate·σ·√3 after a first fit
	// (tracker outliers); default 5.
	Gate float64
	// MaxIter bounds the outer (global coefficient) iterations; default 20.
	MaxIter int
	// Step is the integration step, s; default 0.002.
	Step float64
}

func (c FitConfig) withDefaults() FitConfig {
	if c.SpinPriorStd == 0 {
		c.SpinPriorStd = 300
	}
	if c.Gate == 0 {
		c.Gate = 5
	}
	if c.MaxIter == 0 {
		c.MaxIter = 20
	}
	if c.Step == 0 {
		c.Step = 0.002
	}
	return c
}

// TrackFit is one flight's part of a Fit.
type TrackFit struct {
	Name string `json:"name"`
	// Init is the fitted state at the track's first time stamp.
	Init State `json:"init"`
	// Heading is the spin in the flight's heading frame (x′ along the horizontal
	// velocity, z′ up, y′ = z′ × x′), rad/s: −y′ is topspin, +y′ backspin.
	Heading Vec     `json:"spin_heading_radps"`
	N       int     `json:"observations"`
	Dropped int     `json:"outliers"`
	RMS     float64 `json:"rms_m"` // per axis, of the observations used
}

// FitResult is the outcome of Fit.
type FitResult struct {
	// Props is the base set with the fitted C_d (and g).
	Props Props `json:"props"`
	// CdStd and GStd are the 1σ uncertainties of C_d and g (0 when g is fixed), from the
	// Gauss–Newton curvature with the residual variance; Corr their correlation. Tracker
	// noise that is correlated in time makes these optimistic: compare fits on disjoint
	// files for the spread that matters.
	CdStd float64 `json:"cd_std"`
	GStd  float64 `json:"g_std"`
	Corr  float64 `json:"cd_g_correlation"`
	// RMS is the residual per axis over all observations used, m.
	RMS        float64    `json:"rms_m"`
	N          int        `json:"observations"`
	Dropped    int        `json:"outliers"`
	Iterations int        `json:"iterations"`
	Tracks     []TrackFit `json:"tracks"`
}

// globals are the coefficients shared by every track; kl is held fixed.
type globals struct{ kd, kl, g float64 }

// Fit fits the drag coefficient (and g) of base to recorded flights by least squares over
// every observation, with each flight's initial position, velocity and spin as its own
// unknowns (variable projection: the per-flight states are solved for each trial of the
// shared coefficients). The Magnus acceleration is k_l(ω × v): from positions alone only
// the product of C_l and the spin is determined (scaling C_l by α and every spin by 1/α
// flies the same), so C_l stays base's and the fitted spins are relative to it. Mass,
// radius, air density and spin decay stay base's too.
func Fit(base Props, tracks []Track, cfg FitConfig) (FitResult, error) {
	cfg = cfg.withDefaults()
	if err := base.Validate(); err != nil {
		return FitResult{}, err
	}
	var ok []Track
	for _, t := range tracks {
		if len(t.T) >= 8 && t.T[len(t.T)-1]-t.T[0] >= 0.05 {
			ok = append(ok, t)
		}
	}
	if len(ok) < 2 {
		return FitResult{}, fmt.Errorf("ball: fit: %d flights of ≥ 8 observations over ≥ 0.05 s, want ≥ 2", len(ok))
	}
	kd0, kl0, g0 := base.Coeffs()
	// C_d = kd/fd
	rho := base.AirDensity
	if rho == 0 {
		rho = StandardAirDensity
	}
	fd := -0.5 * rho * math.Pi * base.Radius * base.Radius / base.Mass
	tf := make([]trackFitter, len(ok))
	for i := range ok {
		tf[i] = newTrackFitter(&ok[i], cfg)
		tf[i].decay = base.SpinDecay
	}
	th := globals{kd0, kl0, g0}
	nG := 2 // kd, g
	if cfg.FixGravity {
		nG = 1
	}
	cost := func(th globals) float64 {
		var c float64
		for i := range tf {
			c += tf[i].solve(th, 8)
		}
		return c
	}
	res := FitResult{}
	c := cost(th)
	for pass := 0; pass < 2; pass++ {
		lambda := 1e-3
		for it := 0; it < cfg.MaxIter; it++ {
			res.Iterations++
			var a [2][2]float64
			var b [2]float64
			for i := range tf {
				tf[i].globalNormal(th, nG, &a, &b)
			}
			improved := false
			for try := 0; try < 8; try++ {
				m := a
				for r := 0; r < nG; r++ {
					m[r][r] += lambda * (a[r][r] + 1e-12)
				}
				d, ok := solve2(m, b, nG)
				if !ok {
					lambda *= 10
					continue
				}
				nt := globals{th.kd - d[0], th.kl, th.g - d[1]}
				if nt.kd > 0 || nt.g <= 0 {
					lambda *= 10
					continue
				}
				saved := saveLocals(tf)
				nc := cost(nt)
				if nc < c {
					improved = true
					rel := (c - nc) / c
					th, c = nt, nc
					lambda = math.Max(lambda/3, 1e-9)
					if rel < 1e-7 {
						it = cfg.MaxIter
					}
					break
				}
				restoreLocals(tf, saved)
				lambda *= 10
			}
			if !improved {
				break
			}
		}
		if pass == 1 {
			break
		}
		// Gate outliers against the first fit's robust residual scale, then fit again.
		sigma := robustSigma(tf, th)
		dropped := 0
		for i := range tf {
			dropped += tf[i].gate(th, cfg.Gate*sigma*math.Sqrt(3))
		}
		if dropped == 0 {
			break
		}
		c = cost(th)
	}
	// Uncertainty from the projected curvature.
	var a [2][2]float64
	var b [2]float64
	for i := range tf {
		tf[i].globalNormal(th, nG, &a, &b)
	}
	n := countObs(tf)
	dof := float64(3*n - 9*len(tf) - nG)
	s2 := c / math.Max(dof, 1)
	ai, invOK := inv2(a, nG)
	if !invOK {
		return FitResult{}, errors.New("ball: fit: the coefficients are not determined by these flights (singular curvature)")
	}
	res.Props = base
	res.Props.Cd = th.kd / fd
	res.CdStd = math.Sqrt(s2*ai[0][0]) / math.Abs(fd)
	if !cfg.FixGravity {
		res.Props.Gravity = th.g
		res.GStd = math.Sqrt(s2 * ai[1][1])
		res.Corr = ai[0][1] / math.Sqrt(ai[0][0]*ai[1][1])
	}
	res.N = n
	res.RMS = math.Sqrt(c / float64(3*n))
	for i := range tf {
		res.Dropped += tf[i].dropped
		res.Tracks = append(res.Tracks, tf[i].result(th))
	}
	if err := res.Props.Validate(); err != nil {
		return res, fmt.Errorf("ball: fit: the fitted coefficients are out of range: %w", err)
	}
	return res, nil
}

// Residuals fits each track's initial state and spin with p's coefficients held fixed and
// returns the per-track fits: the residuals of a ball set on flights it was not fitted to.
func Residuals(p Props, tracks []Track, cfg FitConfig) []TrackFit {
	cfg = cfg.withDefaults()
	kd, kl, g := p.Coeffs()
	th := globals{kd, kl, g}
	var out []TrackFit
	for i := range tracks {
		if len(tracks[i].T) < 8 {
			continue
		}
		f := newTrackFitter(&tracks[i], cfg)
		f.decay = p.SpinDecay
		f.solve(th, 30)
		sigma := robustSigma([]trackFitter{f}, th)
		if f.gate(th, cfg.Gate*sigma*math.Sqrt(3)) > 0 {
			f.solve(th, 30)
		}
		out = append(out, f.result(th))
	}
	return out
}

// robustSigma is the per-axis residual σ from the median residual norm (the median of
// √χ²₃ is 1.538), which outliers do not inflate.
func robustSigma(tf []trackFitter, th globals) float64 {
	var norms []float64
	for i := range tf {
		f := &tf[i]
		f.residuals(th, &f.x, f.r)
		for j := range f.use {
			if f.use[j] {
				norms = append(norms, math.Sqrt(f.r[3*j]*f.r[3*j]+f.r[3*j+1]*f.r[3*j+1]+f.r[3*j+2]*f.r[3*j+2]))
			}
		}
	}
	if len(norms) == 0 {
		return 0
	}
	sort.Float64s(norms)
	return norms[len(norms)/2] / 1.538
}

func countObs(tf []trackFitter) int {
	n := 0
	for i := range tf {
		n += tf[i].nUsed()
	}
	return n
}

func saveLocals(tf []trackFitter) [][9]float64 {
	out := make([][9]float64, len(tf))
	for i := range tf {
		out[i] = tf[i].x
	}
	return out
}

func restoreLocals(tf []trackFitter, s [][9]float64) {
	for i := range tf {
		tf[i].x = s[i]
	}
}

// trackFitter holds one track's unknowns x = (p₀, v₀, ω) at T[0] and its outlier mask.
type trackFitter struct {
	tr      *Track
	x       [9]float64
	use     []bool
	dropped int
	cost    float64
	step    float64
	wPrior  float64 // weight of the spin prior rows: σ_ref/σ_ω
	decay   float64
	r, r2   []float64 // residual buffers, 3 per observation
}

func newTrackFitter(tr *Track, cfg FitConfig) trackFitter {
	f := trackFitter{tr: tr, use: make([]bool, len(tr.T)), step: cfg.Step, wPrior: 1e-3 / cfg.SpinPriorStd}
	for i := range f.use {
		f.use[i] = true
	}
	f.r = make([]float64, 3*len(tr.T))
	f.r2 = make([]float64, 3*len(tr.T))
	// start from a quadratic through the track: position and velocity at T[0]
	n := len(tr.T)
	t0 := tr.T[0]
	var s [5]float64
	var m [3][3]float64
	var b [3][3]float64
	for i := 0; i < n; i++ {
		x := tr.T[i] - t0
		pw := 1.0
		for k := 0; k < 5; k++ {
			s[k] += pw
			pw *= x
		}
		for c := 0; c < 3; c++ {
			b[c][0] += tr.P[i][c]
			b[c][1] += tr.P[i][c] * x
			b[c][2] += tr.P[i][c] * x * x
		}
	}
	m = [3][3]float64{{s[0], s[1], s[2]}, {s[1], s[2], s[3]}, {s[2], s[3], s[4]}}
	mi, ok := dense.Inv3(&m)
	for c := 0; c < 3; c++ {
		if !ok {
			f.x[c] = tr.P[0][c]
			continue
		}
		for k := 0; k < 2; k++ {
			var v float64
			for q := 0; q < 3; q++ {
				v += mi[k][q] * b[c][q]
			}
			f.x[c+3*k] = v
		}
	}
	return f
}

func (f *trackFitter) nUsed() int {
	n := 0
	for _, u := range f.use {
		if u {
			n++
		}
	}
	return n
}

// residuals writes observed − simulated (0 for unused observations) into r and returns
// the sum of squares including the spin prior rows.
func (f *trackFitter) residuals(th globals, x *[9]float64, r []float64) float64 {
	s := State{P: Vec{x[0], x[1], x[2]}, V: Vec{x[3], x[4], x[5]}, W: Vec{x[6], x[7], x[8]}}
	t := f.tr.T[0]
	var c float64
	for i, ti := range f.tr.T {
		if dt := ti - t; dt > 0 {
			n := int(math.Ceil(dt/f.step - 1e-9))
			h := dt / float64(n)
			for j := 0; j < n; j++ {
				step(th.kd, th.kl, th.g, f.decay, &s, h)
			}
			t = ti
		}
		for k := 0; k < 3; k++ {
			v := 0.0
			if f.use[i] {
				v = f.tr.P[i][k] - s.P[k]
			}
			r[3*i+k] = v
			c += v * v
		}
	}
	for k := 6; k < 9; k++ {
		c += (f.wPrior * x[k]) * (f.wPrior * x[k])
	}
	return c
}

var fitDelta = [9]float64{1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1e-3, 1e-3, 1e-3}

// solve runs Levenberg–Marquardt on the track's state for fixed coefficients, warm-started
// from the current x; it returns the final cost.
func (f *trackFitter) solve(th globals, maxIter int) float64 {
	c := f.residuals(th, &f.x, f.r)
	lambda := 1e-3
	nr := len(f.r)
	jac := make([][9]float64, nr)
	for it := 0; it < maxIter; it++ {
		f.jacobianLocal(th, jac)
		var a [9][9]float64
		var g [9]float64
		for i := 0; i < nr; i++ {
			for p := 0; p < 9; p++ {
				g[p] += jac[i][p] * f.r[i]
				for q := p; q < 9; q++ {
					a[p][q] += jac[i][p] * jac[i][q]
				}
			}
		}
		for k := 6; k < 9; k++ { // prior rows: residual w·x_k, Jacobian w
			a[k][k] += f.wPrior * f.wPrior
			g[k] += f.wPrior * f.wPrior * f.x[k]
		}
		for p := 0; p < 9; p++ {
			for q := 0; q < p; q++ {
				a[p][q] = a[q][p]
			}
		}
		improved := false
		for try := 0; try < 10; try++ {
			m := a
			for p := 0; p < 9; p++ {
				m[p][p] += lambda * (a[p][p] + 1e-15)
			}
			d, ok := solveSym9(m, g)
			if !ok {
				lambda *= 10
				continue
			}
			// r = obs − sim, J = ∂r/∂x: the Gauss–Newton step is −(JᵀJ)⁻¹Jᵀr.
			var nx [9]float64
			for p := 0; p < 9; p++ {
				nx[p] = f.x[p] - d[p]
			}
			nc := f.residuals(th, &nx, f.r2)
			if nc < c {
				rel := (c - nc) / c
				f.x, c = nx, nc
				copy(f.r, f.r2)
				lambda = math.Max(lambda/3, 1e-12)
				improved = true
				if rel < 1e-9 {
					it = maxIter
				}
				break
			}
			lambda *= 10
		}
		if !improved {
			break
		}
	}
	f.cost = c
	return c
}

// jacobianLocal writes ∂r/∂x (forward differences) for the observation rows.
func (f *trackFitter) jacobianLocal(th globals, jac [][9]float64) {
	for p := 0; p < 9; p++ {
		x := f.x
		x[p] += fitDelta[p]
		f.residuals(th, &x, f.r2)
		for i := range jac {
			jac[i][p] = (f.r2[i] - f.r[i]) / fitDelta[p]
		}
	}
}

// globalNormal adds the track's projected Gauss–Newton terms for the coefficients (kd,
// kl, g) at its current (converged) state: with J_l the local and J_g the global Jacobian,
// J_g is projected off the span of J_l (the local state re-optimises with the
// coefficients), A += (PJ_g)ᵀ(PJ_g) and b += (PJ_g)ᵀr.
func (f *trackFitter) globalNormal(th globals, nG int, a *[2][2]float64, b *[2]float64) {
	f.residuals(th, &f.x, f.r)
	nr := len(f.r)
	jl := make([][9]float64, nr)
	f.jacobianLocal(th, jl)
	jg := make([][2]float64, nr)
	for q := 0; q < nG; q++ {
		t := th
		var d float64
		switch q {
		case 0:
			d = 1e-4 * math.Max(math.Abs(th.kd), 1e-3)
			t.kd += d
		case 1:
			d = 1e-4
			t.g += d
		}
		f.residuals(t, &f.x, f.r2)
		for i := 0; i < nr; i++ {
			jg[i][q] = (f.r2[i] - f.r[i]) / d
		}
	}
	// (J_lᵀJ_l + prior)⁻¹ J_lᵀ J_g
	var ll [9][9]float64
	var lg [9][2]float64
	for i := 0; i < nr; i++ {
		for p := 0; p < 9; p++ {
			for q := p; q < 9; q++ {
				ll[p][q] += jl[i][p] * jl[i][q]
			}
			for q := 0; q < nG; q++ {
				lg[p][q] += jl[i][p] * jg[i][q]
			}
		}
	}
	for k := 6; k < 9; k++ {
		ll[k][k] += f.wPrior * f.wPrior
	}
	for p := 0; p < 9; p++ {
		for q := 0; q < p; q++ {
			ll[p][q] = ll[q][p]
		}
	}
	var coef [9][2]float64
	for q := 0; q < nG; q++ {
		var col [9]float64
		for p := 0; p < 9; p++ {
			col[p] = lg[p][q]
		}
		d, ok := solveSym9(ll, col)
		if !ok {
			return
		}
		for p := 0; p < 9; p++ {
			coef[p][q] = d[p]
		}
	}
	// the spin prior rows: J_g is 0 there, so PJ_g = −w·coef and r = w·x
	for k := 6; k < 9; k++ {
		for q := 0; q < nG; q++ {
			b[q] += -f.wPrior * coef[k][q] * f.wPrior * f.x[k]
			for s := 0; s < nG; s++ {
				a[q][s] += f.wPrior * f.wPrior * coef[k][q] * coef[k][s]
			}
		}
	}
	for i := 0; i < nr; i++ {
		var pj [2]float64
		for q := 0; q < nG; q++ {
			v := jg[i][q]
			for p := 0; p < 9; p++ {
				v -= jl[i][p] * coef[p][q]
			}
			pj[q] = v
		}
		for q := 0; q < nG; q++ {
			b[q] += pj[q] * f.r[i]
			for s := 0; s < nG; s++ {
				a[q][s] += pj[q] * pj[s]
			}
		}
	}
}

// gate marks observations whose residual norm exceeds lim as unused and returns how many
// it marked.
func (f *trackFitter) gate(th globals, lim float64) int {
	f.residuals(th, &f.x, f.r)
	n := 0
	for i := range f.use {
		if !f.use[i] {
			continue
		}
		d := math.Sqrt(f.r[3*i]*f.r[3*i] + f.r[3*i+1]*f.r[3*i+1] + f.r[3*i+2]*f.r[3*i+2])
		if d > lim {
			f.use[i] = false
			n++
		}
	}
	f.dropped += n
	return n
}

func (f *trackFitter) result(th globals) TrackFit {
	c := f.residuals(th, &f.x, f.r)
	for k := 6; k < 9; k++ {
		c -= (f.wPrior * f.x[k]) * (f.wPrior * f.x[k])
	}
	n := f.nUsed()
	if n == 0 {
		n = 1 // every observation gated: report the prior's cost only
	}
	init := State{P: Vec{f.x[0], f.x[1], f.x[2]}, V: Vec{f.x[3], f.x[4], f.x[5]}, W: Vec{f.x[6], f.x[7], f.x[8]}}
	return TrackFit{Name: f.tr.Name, Init: init, Heading: HeadingSpin(init.V, init.W), N: n, Dropped: f.dropped, RMS: math.Sqrt(math.Max(c, 0) / float64(3*n))}
}

// HeadingSpin expresses the spin w in the heading frame of velocity v: x′ along the
// horizontal velocity, z′ up, y′ = z′ × x′ (for a ball flying along +x′, spin about −y′
// is topspin).
func HeadingSpin(v, w Vec) Vec {
	h := math.Hypot(v[0], v[1])
	if h == 0 {
		return w
	}
	c, s := v[0]/h, v[1]/h
	return Vec{c*w[0] + s*w[1], -s*w[0] + c*w[1], w[2]}
}

// WorldSpin is the inverse of HeadingSpin.
func WorldSpin(v, wh Vec) Vec {
	h := math.Hypot(v[0], v[1])
	if h == 0 {
		return wh
	}
	c, s := v[0]/h, v[1]/h
	return Vec{c*wh[0] - s*wh[1], s*wh[0] + c*wh[1], wh[2]}
}

// solve2 solves the leading n×n (n = 1 or 2) block of a·x = b.
func solve2(a [2][2]float64, b [2]float64, n int) ([2]float64, bool) {
	ai, ok := inv2(a, n)
	if !ok {
		return [2]float64{}, false
	}
	return [2]float64{ai[0][0]*b[0] + ai[0][1]*b[1], ai[1][0]*b[0] + ai[1][1]*b[1]}, true
}

// inv2 inverts the leading n×n (n = 1 or 2) block of a; the rest of the result is 0.
func inv2(a [2][2]float64, n int) ([2][2]float64, bool) {
	if n == 1 {
		if !(a[0][0] > 0) {
			return [2][2]float64{}, false
		}
		return [2][2]float64{{1 / a[0][0], 0}, {0, 0}}, true
	}
	d := a[0][0]*a[1][1] - a[0][1]*a[1][0]
	if !(d > 0) {
		return [2][2]float64{}, false
	}
	return [2][2]float64{{a[1][1] / d, -a[0][1] / d}, {-a[1][0] / d, a[0][0] / d}}, true
}

// solveSym9 solves a symmetric positive-definite 9×9 system by Cholesky.
func solveSym9(a [9][9]float64, b [9]float64) ([9]float64, bool) {
	var l [9][9]float64
	for i := 0; i < 9; i++ {
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if !(s > 0) {
					return [9]float64{}, false
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	var y, x [9]float64
	for i := 0; i < 9; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i][k] * y[k]
		}
		y[i] = s / l[i][i]
	}
	for i := 8; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < 9; k++ {
			s -= l[k][i] * x[k]
		}
		x[i] = s / l[i][i]
	}
	return x, true
}

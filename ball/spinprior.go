package ball

import (
	"fmt"
	"math"
	"strings"
)

// SpinPrior gives a flight's spin before any curvature has been seen, from where the ball
// is and how it flies at track start. The estimator in perception/ starts its spin state
// from it.
type SpinPrior interface {
	// Spin writes the prior mean (rad/s, world frame) and covariance (3×3 row-major,
	// (rad/s)²) of the spin of a ball at position p with velocity v.
	Spin(p, v Vec, mean *Vec, cov *[9]float64)
}

// SpinTableConfig configures NewSpinTable. The zero value means the defaults.
type SpinTableConfig struct {
	// PosScale and VelScale are the distances in position (m) and velocity (m/s) at which
	// a fitted flight's weight has fallen to e^-½; defaults 0.15 m and 1 m/s (a track's
	// first velocity comes from a few observations and is good to a few tenths of m/s).
	PosScale, VelScale float64
	// K is the number of nearest fitted flights that enter a prior; default 12.
	K int
	// PriorWeight is the weight of the fitted spins' overall distribution in every prior:
	// far from all fitted flights the prior falls back to it; default 0.5.
	PriorWeight float64
	// MinStd is the least σ per heading-frame component, rad/s; default 3 (the fitted
	// spins' own error).
	MinStd float64
	// MinObs drops fitted flights with fewer observations; default 30.
	MinObs int
}

func (c SpinTableConfig) withDefaults() SpinTableConfig {
	if c.PosScale == 0 {
		c.PosScale = 0.15
	}
	if c.VelScale == 0 {
		c.VelScale = 1
	}
	if c.K == 0 {
		c.K = 12
	}
	if c.PriorWeight == 0 {
		c.PriorWeight = 0.5
	}
	if c.MinStd == 0 {
		c.MinStd = 3
	}
	if c.MinObs == 0 {
		c.MinObs = 30
	}
	return c
}

// SpinTable is a SpinPrior learned from fitted flights (Fit's TrackFits): the spin of a new
// flight is the kernel-weighted mean, in the heading frame, of the spins of the K fitted
// flights nearest to it in initial position and velocity, and its σ their weighted spread;
// the overall distribution of the fitted spins enters with PriorWeight so that a flight
// unlike any fitted one gets the broad prior. A launcher repeats its launches, and with them
// its spins: this is what makes a spin known from the first observations.
type SpinTable struct {
	cfg     SpinTableConfig
	fits    []TrackFit
	file    []string // the part of each fit's name before ':'
	exclude string
	mean    Vec // over all fits, heading frame
	vari    Vec
}

// NewSpinTable builds a SpinTable from fitted flights.
func NewSpinTable(fits []TrackFit, cfg SpinTableConfig) (*SpinTable, error) {
	cfg = cfg.withDefaults()
	if !(cfg.PosScale > 0 && cfg.VelScale > 0 && cfg.PriorWeight > 0 && cfg.MinStd > 0 && cfg.K > 0) {
		return nil, fmt.Errorf("ball: spin table: scales, K, prior weight and least σ must be > 0, got %+v", cfg)
	}
	t := &SpinTable{cfg: cfg}
	for _, f := range fits {
		if f.N < cfg.MinObs || !finiteVec(f.Heading) || !finiteVec(f.Init.P) || !finiteVec(f.Init.V) {
			continue
		}
		t.fits = append(t.fits, f)
		name, _, _ := strings.Cut(f.Name, ":")
		t.file = append(t.file, name)
	}
	if len(t.fits) < 2 {
		return nil, fmt.Errorf("ball: spin table: %d fitted flights with ≥ %d observations, want ≥ 2", len(t.fits), cfg.MinObs)
	}
	n := float64(len(t.fits))
	for _, f := range t.fits {
		for k := 0; k < 3; k++ {
			t.mean[k] += f.Heading[k] / n
		}
	}
	for _, f := range t.fits {
		for k := 0; k < 3; k++ {
			d := f.Heading[k] - t.mean[k]
			t.vari[k] += d * d / n
		}
	}
	return t, nil
}

// Len is the number of fitted flights in the table.
func (t *SpinTable) Len() int { return len(t.fits) }

// Without returns a table that ignores the flights of one file (the part of a TrackFit's
// name before ':'): leave-one-file-out priors for tuning on the files the table was built
// from. The overall distribution stays that of every flight.
func (t *SpinTable) Without(file string) *SpinTable {
	c := *t
	c.exclude = file
	return &c
}

// Spin implements SpinPrior.
func (t *SpinTable) Spin(p, v Vec, mean *Vec, cov *[9]float64) {
	type nb struct {
		d2 float64
		i  int
	}
	var best [32]nb
	k := min(t.cfg.K, len(best))
	n := 0
	for i, f := range t.fits {
		if t.exclude != "" && t.file[i] == t.exclude {
			continue
		}
		var d2 float64
		for j := 0; j < 3; j++ {
			dp := (f.Init.P[j] - p[j]) / t.cfg.PosScale
			dv := (f.Init.V[j] - v[j]) / t.cfg.VelScale
			d2 += dp*dp + dv*dv
		}
		// Insertion into the sorted k nearest (no allocation: the estimator calls this
		// from Observe).
		if n == k && d2 >= best[n-1].d2 {
			continue
		}
		if n < k {
			n++
		}
		j := n - 1
		for ; j > 0 && best[j-1].d2 > d2; j-- {
			best[j] = best[j-1]
		}
		best[j] = nb{d2, i}
	}
	w0 := t.cfg.PriorWeight
	sw := w0
	var m Vec
	for k := 0; k < 3; k++ {
		m[k] = w0 * t.mean[k]
	}
	for _, b := range best[:n] {
		w := math.Exp(-b.d2 / 2)
		sw += w
		for k := 0; k < 3; k++ {
			m[k] += w * t.fits[b.i].Heading[k]
		}
	}
	for k := 0; k < 3; k++ {
		m[k] /= sw
	}
	var s Vec
	for k := 0; k < 3; k++ {
		d := t.mean[k] - m[k]
		s[k] = w0 * (t.vari[k] + d*d)
	}
	for _, b := range best[:n] {
		w := math.Exp(-b.d2 / 2)
		for k := 0; k < 3; k++ {
			d := t.fits[b.i].Heading[k] - m[k]
			s[k] += w * d * d
		}
	}
	for k := 0; k < 3; k++ {
		s[k] = math.Max(s[k]/sw, t.cfg.MinStd*t.cfg.MinStd)
	}
	*mean = WorldSpin(v, m)
	// cov = R diag(s) Rᵀ with R the heading frame's rotation about z.
	h := math.Hypot(v[0], v[1])
	c, sn := 1.0, 0.0
	if h > 0 {
		c, sn = v[0]/h, v[1]/h
	}
	*cov = [9]float64{
		c*c*s[0] + sn*sn*s[1], c * sn * (s[0] - s[1]), 0,
		c * sn * (s[0] - s[1]), sn*sn*s[0] + c*c*s[1], 0,
		0, 0, s[2],
	}
}

func finiteVec(v Vec) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

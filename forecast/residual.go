package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// Residual is an interpolant trained on what the physics baseline's mean forecast gets
// wrong: its reference is the estimator's state (spin included) flown on without noise, and
// its condition (EstimateCond) is read from that estimate, so the model only has to learn
// the distribution of the physics forecast's error given the flight, not the flight. It
// reads Input.Estimate (and the history's span and age). Models for it are trained on
// ResidualDataset examples; CrossValidate trains one per fold with CVConfig.Residual,
// TrainResidualEnsemble the same on a set of flights (LoadResidualEnsemble loads it).
//
// The condition includes the estimate's world position and velocity: a residual model is
// trained on one installation's recordings (its cameras, their calibration and timing, its
// launcher), whose errors depend on where in the room the ball flies; it is not meant for
// another installation.
type Residual struct {
	it   *Interpolant
	cond [EstimateCondDim]float64
	ref  []float64
}

// CondEstimate is Meta.CondKind (and Dataset.CondKind) of a Residual's model: the condition
// is EstimateCond's.
const CondEstimate = "estimate"

// EstimateCondDim is the length of EstimateCond's condition.
const EstimateCondDim = 15

// EstimateCondNames name EstimateCond's coordinates, for reports.
var EstimateCondNames = [EstimateCondDim]string{"horizontal speed", "vertical speed", "magnus accel x′", "magnus accel y′", "magnus accel z′", "history span", "track fill", "age", "position σ", "x", "y", "z", "vx", "vy", "vz"}

// NewResidual wraps an interpolant whose model was trained on ResidualDataset examples
// (Meta.CondKind CondEstimate).
func NewResidual(it *Interpolant) (*Residual, error) {
	if k := it.m.Meta.CondKind; k != CondEstimate {
		return nil, fmt.Errorf("forecast: residual: the model's condition is %q, want %s (trained on ResidualDataset)", k, CondEstimate)
	}
	return &Residual{it: it, ref: make([]float64, it.m.Meta.D())}, nil
}

// Horizons implements Forecaster.
func (r *Residual) Horizons() (float64, int) { return r.it.Horizons() }

// EstimateCond writes the condition of an estimate (length EstimateCondDim, unnormalised):
// the horizontal and vertical speed (m/s), the Magnus acceleration of the estimated spin in
// the heading frame (m/s²), the history's span (s), the observations in the track over
// maxObs, the age of the newest observation (s), the estimate's position σ (mm), and its
// world position (m) and velocity (m/s).
func EstimateCond(props *ball.Props, est *ball.Estimate, hist []Obs, now float64, maxObs int, dst []float64) {
	v, w := est.State.V, est.State.W
	_, kl, _ := props.Coeffs()
	a := ball.Vec{kl * (w[1]*v[2] - w[2]*v[1]), kl * (w[2]*v[0] - w[0]*v[2]), kl * (w[0]*v[1] - w[1]*v[0])}
	e := NewFrame(v).ToLocal(a)
	dst[0] = math.Hypot(v[0], v[1])
	dst[1] = v[2]
	dst[2], dst[3], dst[4] = e[0], e[1], e[2]
	dst[5], dst[7] = 0, 0
	if len(hist) > 0 {
		dst[5] = now - hist[0].T
		dst[7] = now - hist[len(hist)-1].T
	}
	dst[6] = math.Min(float64(est.NObs)/float64(maxObs), 1)
	dst[8] = 1000 * math.Sqrt(math.Max(est.Cov[0]+est.Cov[7]+est.Cov[14], 0))
	for k := 0; k < 3; k++ {
		dst[9+k], dst[12+k] = est.State.P[k], est.State.V[k]
	}
}

// estimateRef writes the estimate flown on without noise to Now+Dt … Now+H·Dt (H×3, m).
func estimateRef(props *ball.Props, est *ball.Estimate, now, dt float64, h int, dst []float64) {
	s := est.State
	stepTo(props, &s, est.T, now)
	for i := 0; i < h; i++ {
		stepTo(props, &s, 0, dt)
		copy(dst[i*3:i*3+3], s.P[:])
	}
}

// Forecast implements Forecaster.
func (r *Residual) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	meta := &r.it.m.Meta
	hz := meta.Horizons
	if err := checkDst(dst, hz.H); err != nil {
		return err
	}
	if in.Estimate == nil || !in.Estimate.Valid {
		return ErrNoCondition
	}
	EstimateCond(&meta.Ball, in.Estimate, in.History, in.Now, meta.Fit.WithDefaults().MaxObs, r.cond[:])
	meta.normCond(r.cond[:])
	estimateRef(&meta.Ball, in.Estimate, in.Now, hz.Dt, hz.H, r.ref)
	n := dst.N
	r.it.size(n)
	if err := r.it.SampleZ(r.cond[:], n, rng, r.it.x); err != nil {
		return err
	}
	dst.T0, dst.Dt, dst.H = in.Now, hz.Dt, hz.H
	writeSamples(dst, r.it.x, r.ref, NewFrame(in.Estimate.State.V), meta.Scale, n, hz.H)
	return nil
}

// ResidualDataset turns windows into Residual examples: each window's history is fed to the
// tracker (told the window's flight first when it is a flightTracker), and the truth's
// residual from the estimate flown on is taken in the estimate's heading frame. Windows
// without a valid estimate are skipped and counted.
func ResidualDataset(props *ball.Props, tracker Tracker, windows []Window, cfg WindowConfig) (*Dataset, int) {
	cfg = cfg.WithDefaults()
	hz := cfg.Horizons
	ds := &Dataset{Horizons: hz, CondKind: CondEstimate}
	ref := make([]float64, hz.H*3)
	var c [EstimateCondDim]float64
	var est ball.Estimate
	skipped := 0
	for _, w := range windows {
		estimateWindow(tracker, w, &est)
		if !est.Valid {
			skipped++
			continue
		}
		EstimateCond(props, &est, w.History, w.Now, cfg.Fit.MaxObs, c[:])
		estimateRef(props, &est, w.Now, hz.Dt, hz.H, ref)
		fr := NewFrame(est.State.V)
		ds.Cond = append(ds.Cond, c[:]...)
		for h := 0; h < hz.H; h++ {
			r := fr.ToLocal(ball.Vec{w.Truth[h*3] - ref[h*3], w.Truth[h*3+1] - ref[h*3+1], w.Truth[h*3+2] - ref[h*3+2]})
			ds.Res = append(ds.Res, r[:]...)
		}
	}
	return ds, skipped
}

package forecast

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// Tracker is the estimator the evaluation feeds the history to, for the physics
// baseline's Input.Estimate; *perception.Estimator implements it.
type Tracker interface {
	Reset()
	Observe(t float64, p [3]float64) bool
	Estimate(now float64, dst *ball.Estimate)
}

// Scores are the quality numbers of one forecaster over a set of windows.
type Scores struct {
	Name string `json:"name"`
	// Windows scored; Skipped had no forecast (ErrNoCondition).
	Windows int `json:"windows"`
	Skipped int `json:"skipped"`
	// EnergyScore over the whole horizon (all H×3 coordinates as one vector), mean, m.
	EnergyScore float64 `json:"energy_score_m"`
	// At AtS ahead (0.3 s): CRPS per coordinate (m), coverage of the central 50% and 90%
	// intervals per coordinate, and the error of the sample mean (Euclidean, m).
	AtS      float64    `json:"at_s"`
	CRPS     [3]float64 `json:"crps_m"`
	Cover50  [3]float64 `json:"coverage50"`
	Cover90  [3]float64 `json:"coverage90"`
	Cov50    float64    `json:"coverage50_mean"`
	Cov90    float64    `json:"coverage90_mean"`
	MeanErr  float64    `json:"mean_error_m"`
	MeanErrH float64    `json:"mean_error_final_m"` // at the last horizon with a truth
	// Horizon is the mean span the energy score covered, s: the full horizon on simulated
	// throws, less where a recorded flight ends (at a bounce) before it.
	Horizon float64 `json:"horizon_s"`
	// MSPerForecast is the mean wall time of one Forecast call with Samples samples.
	MSPerForecast float64 `json:"ms_per_forecast"`
	Samples       int     `json:"samples"`
	// PerWindow holds each window's scores (OK false where skipped), in the order of the
	// windows, for Summarise.
	PerWindow []WindowScore `json:"-"`
}

// WindowScore is one window's scores.
type WindowScore struct {
	OK         bool
	ES         float64 // energy score over the covered horizon, m
	CRPS       [3]float64
	In50, In90 [3]bool
	Err, ErrH  float64 // error of the sample mean at AtS and at the last covered horizon, m
	Horizon    float64 // covered span, s
}

// EvalConfig configures Evaluate.
type EvalConfig struct {
	Samples int     // per forecast; default 256
	Seed    uint64  // of the forecasters' random source
	AtS     float64 // horizon of the per-coordinate scores, s; default 0.3
}

// Evaluate scores a forecaster on windows. tracker (may be nil when f does not need an
// estimate) is reset and fed each window's history. Every window needs a truth at AtS
// (recorded flights: FlightWindows with minCover ≥ AtS).
func Evaluate(name string, f Forecaster, tracker Tracker, windows []Window, cfg EvalConfig) (Scores, error) {
	if cfg.Samples == 0 {
		cfg.Samples = 256
	}
	if cfg.AtS == 0 {
		cfg.AtS = 0.3
	}
	dt, h := f.Horizons()
	hAt := int(math.Round(cfg.AtS/dt)) - 1
	if hAt < 0 || hAt >= h {
		return Scores{}, fmt.Errorf("forecast: evaluate at %g s: outside the horizons (%d × %g s)", cfg.AtS, h, dt)
	}
	sc := Scores{Name: name, AtS: float64(hAt+1) * dt, Samples: cfg.Samples, PerWindow: make([]WindowScore, len(windows))}
	buf := NewBuffer(dt, h, cfg.Samples)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	var est ball.Estimate
	col := make([]float64, cfg.Samples)
	var total time.Duration
	d := h * 3
	for i, w := range windows {
		if len(w.Truth) != d {
			return sc, fmt.Errorf("forecast: window of %s has %d truth values, want %d", w.Flight, len(w.Truth), d)
		}
		if math.IsNaN(w.Truth[hAt*3]) {
			return sc, fmt.Errorf("forecast: window of %s at %.3f s has no truth %g s ahead (the flight ends before): score windows that cover at least %g s", w.Flight, w.Now, sc.AtS, sc.AtS)
		}
		in := Input{Now: w.Now, History: w.History}
		if tracker != nil {
			tracker.Reset()
			for _, o := range w.History {
				tracker.Observe(o.T, o.P)
			}
			tracker.Estimate(w.Now, &est)
			in.Estimate = &est
		}
		start := time.Now()
		err := f.Forecast(&in, rng, &buf)
		total += time.Since(start)
		if errors.Is(err, ErrNoCondition) {
			continue
		}
		if err != nil {
			return sc, err
		}
		sc.PerWindow[i] = scoreWindow(&buf, w.Truth, hAt, col)
	}
	sum := Summarise(sc, nil)
	sum.MSPerForecast = float64(total) / 1e6 / float64(len(windows))
	if sum.Windows == 0 {
		return sum, fmt.Errorf("forecast: %s: no window could be forecast (%d skipped)", name, sum.Skipped)
	}
	return sum, nil
}

// Summarise recomputes the mean scores of sc over the windows keep allows (all when keep is
// nil); windows kept but skipped by the forecaster count in Skipped. Comparing forecasters
// on the windows both forecast: keep = func(i) { a.PerWindow[i].OK && b.PerWindow[i].OK }.
func Summarise(sc Scores, keep func(i int) bool) Scores {
	out := Scores{Name: sc.Name, AtS: sc.AtS, Samples: sc.Samples, MSPerForecast: sc.MSPerForecast, PerWindow: sc.PerWindow}
	for i, w := range sc.PerWindow {
		if keep != nil && !keep(i) {
			continue
		}
		if !w.OK {
			out.Skipped++
			continue
		}
		out.Windows++
		out.EnergyScore += w.ES
		out.MeanErr += w.Err
		out.MeanErrH += w.ErrH
		out.Horizon += w.Horizon
		for k := 0; k < 3; k++ {
			out.CRPS[k] += w.CRPS[k]
			if w.In50[k] {
				out.Cover50[k]++
			}
			if w.In90[k] {
				out.Cover90[k]++
			}
		}
	}
	if out.Windows == 0 {
		return out
	}
	n := float64(out.Windows)
	out.EnergyScore /= n
	out.MeanErr /= n
	out.MeanErrH /= n
	out.Horizon /= n
	for k := 0; k < 3; k++ {
		out.CRPS[k] /= n
		out.Cover50[k] /= n
		out.Cover90[k] /= n
	}
	out.Cov50 = (out.Cover50[0] + out.Cover50[1] + out.Cover50[2]) / 3
	out.Cov90 = (out.Cover90[0] + out.Cover90[1] + out.Cover90[2]) / 3
	return out
}

// Common returns the windows every one of the scores forecast, as a keep function for
// Summarise, and their count.
func Common(scores ...*Scores) (func(i int) bool, int) {
	keep := func(i int) bool {
		for _, s := range scores {
			if i >= len(s.PerWindow) || !s.PerWindow[i].OK {
				return false
			}
		}
		return true
	}
	n := 0
	if len(scores) > 0 {
		for i := range scores[0].PerWindow {
			if keep(i) {
				n++
			}
		}
	}
	return keep, n
}

func scoreWindow(buf *control.Forecast, truth []float64, hAt int, col []float64) WindowScore {
	n, h := buf.N, buf.H
	d := h * 3
	ws := WindowScore{OK: true}
	// Recorded flights may end before the last horizon (NaN truth): score the covered part
	// (at least hAt+1 horizons: Evaluate checked the truth at hAt).
	hc := h
	for hc > hAt+1 && math.IsNaN(truth[(hc-1)*3]) {
		hc--
	}
	ws.Horizon = float64(hc) * buf.Dt
	ws.ES = energyScore(buf.Pos, n, d, hc*3, truth)
	var me ball.Vec
	for k := 0; k < 3; k++ {
		for i := 0; i < n; i++ {
			col[i] = buf.Pos[i*d+hAt*3+k]
		}
		y := truth[hAt*3+k]
		var m float64
		for _, v := range col[:n] {
			m += v
		}
		me[k] = m/float64(n) - y
		ws.CRPS[k] = CRPS(col[:n], y) // sorts col
		ws.In50[k] = y >= Quantile(col[:n], 0.25) && y <= Quantile(col[:n], 0.75)
		ws.In90[k] = y >= Quantile(col[:n], 0.05) && y <= Quantile(col[:n], 0.95)
	}
	ws.Err = math.Sqrt(me[0]*me[0] + me[1]*me[1] + me[2]*me[2])
	var mf ball.Vec
	for k := 0; k < 3; k++ {
		for i := 0; i < n; i++ {
			mf[k] += buf.Pos[i*d+(hc-1)*3+k]
		}
		mf[k] = mf[k]/float64(n) - truth[(hc-1)*3+k]
	}
	ws.ErrH = math.Sqrt(mf[0]*mf[0] + mf[1]*mf[1] + mf[2]*mf[2])
	return ws
}

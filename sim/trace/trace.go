// Package trace writes and reads per-tick trial traces: one CSV file per
// trial, one row per control tick (250 Hz by default), in the columnar
// format documented in docs/traces.md. `catch sim --trace DIR` and
// `catch bench --trace DIR` write them through Writer (a sim.Tracer), the
// ROS node's trial log converts to the same form (FromTrialLog), and
// `catch view` reads them (Read).
//
// A file holds, in order: "# provenance: {json}" (package
// internal/provenance), "# trial: {json}" (controller, scenario, seed,
// trial index, the throw), the header row, one row per tick and a last
// "# result: {json}" line (the sim.TrialResult with the judge's verdict and
// failure reason). CSV readers skip the comment lines with '#' as comment
// character.
package trace

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/sim"
)

// PlanKnots and ForecastHorizons are the fixed numbers of plan knots and
// forecast horizons a row holds (fewer leave cells empty).
const (
	PlanKnots        = 5
	ForecastHorizons = 5
)

// Quantiles of the forecast samples each horizon records.
var Quantiles = []float64{0.05, 0.5, 0.95}

// Header is the trace's header row for a chain of dof joints.
func Header(dof int) []string {
	var h []string
	add := func(s ...string) { h = append(h, s...) }
	add("t")
	for _, p := range []string{"q", "qd", "cmd_q", "cmd_qd"} {
		for j := range dof {
			add(fmt.Sprintf("%s%d", p, j))
		}
	}
	add("head_x", "head_y", "head_z", "head_qw", "head_qx", "head_qy", "head_qz")
	add("ball_x", "ball_y", "ball_z", "ball_vx", "ball_vy", "ball_vz")
	add("est_valid", "est_t", "est_nobs", "est_x", "est_y", "est_z", "est_vx", "est_vy", "est_vz")
	names := []string{"x", "y", "z", "vx", "vy", "vz"}
	for i := range 6 {
		for j := i; j < 6; j++ {
			add("est_cov_" + names[i] + "_" + names[j])
		}
	}
	add("fc_t0")
	for k := range ForecastHorizons {
		add(fmt.Sprintf("fc%d_t", k))
		for _, q := range Quantiles {
			for _, c := range []string{"x", "y", "z"} {
				add(fmt.Sprintf("fc%d_q%02.0f_%s", k, 100*q, c))
			}
		}
	}
	add("plan_n")
	for k := range PlanKnots {
		add(fmt.Sprintf("plan%d_x", k), fmt.Sprintf("plan%d_y", k), fmt.Sprintf("plan%d_z", k))
	}
	add("status", "compute_ms", "error", "limit_clamp", "arm_guarded", "obs_new")
	add("in_pocket", "rim_hits", "pocket_exits", "caught", "miss_m", "event")
	return h
}

// TrialInfo is the "# trial:" line.
type TrialInfo struct {
	Controller string     `json:"controller"`
	Scenario   string     `json:"scenario"`
	Seed       uint64     `json:"seed"`
	Trial      int        `json:"trial"`
	DOF        int        `json:"dof"`
	RateHz     float64    `json:"control_rate_hz"`
	Ball       ball.Props `json:"ball"`
	Release    ball.State `json:"release"`
	YawDeg     float64    `json:"yaw_deg"`
	// Engine is the physics engine of the trial (sim.Engine.Name; absent in
	// traces from trial logs of the real arm).
	Engine string `json:"engine,omitempty"`
}

// FileName is the trace file of a trial in the kinematic engine.
func FileName(controller, scenario string, seed uint64, trial int) string {
	return EngineFileName(controller, scenario, "", seed, trial)
}

// EngineFileName is the trace file of a trial in the named physics engine
// (sim.Engine.Name): the kinematic engine ("" too) keeps FileName's name;
// another engine's name follows the scenario's
// (<controller>_<scenario>_<engine>_s<seed>_t<trial>.csv), so the traces of
// `catch bench --engines a,b` do not overwrite each other.
func EngineFileName(controller, scenario, engine string, seed uint64, trial int) string {
	if engine == "" || engine == sim.Kinematic.Name() {
		return fmt.Sprintf("%s_%s_s%d_t%05d.csv", controller, scenario, seed, trial)
	}
	return fmt.Sprintf("%s_%s_%s_s%d_t%05d.csv", controller, scenario, engine, seed, trial)
}

// Writer is a sim.Tracer that writes one file per trial into Dir. Each
// trial is built in memory and written with one call at its end. Not safe
// for concurrent use: one Writer per World.
type Writer struct {
	Dir        string
	Controller string
	Seed       uint64
	RateHz     float64
	Provenance provenance.Record

	dof     int
	info    TrialInfo
	buf     []byte
	samples []float64
	prev    sim.Tick
	prevOK  bool
}

// Begin implements sim.Tracer.
func (w *Writer) Begin(th *sim.Throw, res *sim.TrialResult) error {
	w.info = TrialInfo{Controller: w.Controller, Scenario: th.Scenario, Seed: w.Seed, Trial: res.Index,
		RateHz: w.RateHz, Ball: th.Ball, Release: th.Init, YawDeg: th.YawDeg, Engine: res.Engine}
	w.buf = w.buf[:0]
	w.dof = 0
	w.prevOK = false
	return nil
}

// Tick implements sim.Tracer.
func (w *Writer) Tick(tk *sim.Tick) {
	if w.dof == 0 {
		w.dof = len(tk.Q)
		w.info.DOF = w.dof
		w.buf = append(w.buf, w.Provenance.Comment()...)
		js, _ := json.Marshal(w.info)
		w.buf = append(w.buf, "# trial: "...)
		w.buf = append(w.buf, js...)
		w.buf = append(w.buf, '\n')
		for i, h := range Header(w.dof) {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, h...)
		}
		w.buf = append(w.buf, '\n')
	}
	b := w.buf
	f := func(v float64) { b = append(b, ','); b = strconv.AppendFloat(b, v, 'g', 6, 64) }
	blank := func(n int) {
		for range n {
			b = append(b, ',')
		}
	}
	b = strconv.AppendFloat(b, tk.T, 'f', 4, 64)
	for _, s := range [][]float64{tk.Q, tk.Qd, tk.CmdQ, tk.CmdQd} {
		for _, v := range s {
			f(v)
		}
	}
	h := tk.Head
	f(h.O[0])
	f(h.O[1])
	f(h.O[2])
	qw, qx, qy, qz := quat(&h.R)
	f(qw)
	f(qx)
	f(qy)
	f(qz)
	if tk.Ball != nil {
		for k := range 3 {
			f(tk.Ball.P[k])
		}
		for k := range 3 {
			f(tk.Ball.V[k])
		}
	} else {
		blank(6) // a trial log has no ground truth
	}
	e := tk.Est
	if e.Valid {
		b = append(b, ",1"...)
		f(e.T)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(e.NObs), 10)
		for k := range 3 {
			f(e.State.P[k])
		}
		for k := range 3 {
			f(e.State.V[k])
		}
		if e.Cov == ([36]float64{}) {
			blank(21) // no covariance known (a trial log's estimate)
		} else {
			for i := range 6 {
				for j := i; j < 6; j++ {
					f(e.Cov[i*6+j])
				}
			}
		}
	} else {
		b = append(b, ",0"...)
		blank(2 + 6 + 21)
	}
	fcCols := ForecastHorizons * (1 + 3*len(Quantiles))
	if fc := tk.Forecast; fc != nil && fc.N > 0 && fc.H > 0 {
		f(fc.T0)
		nh := min(ForecastHorizons, fc.H)
		for k := range nh {
			hz := (k + 1) * fc.H / nh // evenly spread, the last horizon included
			f(fc.T0 + float64(hz)*fc.Dt)
			for _, q := range Quantiles {
				for c := range 3 {
					w.samples = w.samples[:0]
					for s := range fc.N {
						w.samples = append(w.samples, fc.Pos[(s*fc.H+hz-1)*3+c])
					}
					slices.Sort(w.samples)
					f(w.samples[min(len(w.samples)-1, int(q*float64(len(w.samples))))])
				}
			}
		}
		blank((ForecastHorizons - nh) * (1 + 3*len(Quantiles)))
	} else {
		blank(1 + fcCols)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(len(tk.PlanHead)), 10)
	for k := range PlanKnots {
		if k < len(tk.PlanHead) {
			f(tk.PlanHead[k][0])
			f(tk.PlanHead[k][1])
			f(tk.PlanHead[k][2])
		} else {
			blank(3)
		}
	}
	b = append(b, ',')
	b = append(b, tk.Status.Code.String()...)
	f(tk.ComputeMS)
	b = append(b, ',')
	if tk.Err != "" {
		b = strconv.AppendQuote(b, tk.Err)
	}
	b = append(b, ',')
	b = appendBool(b, tk.Clamped)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(tk.Guarded), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(tk.ObservationsNew), 10)
	b = append(b, ',')
	b = appendBool(b, tk.InPocket)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(tk.RimHits), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(tk.Exits), 10)
	b = append(b, ',')
	b = appendBool(b, tk.Caught)
	if math.IsInf(tk.MissDistanceM, 0) || tk.MissDistanceM < 0 {
		b = append(b, ',')
	} else {
		f(tk.MissDistanceM)
	}
	b = append(b, ',')
	b = append(b, w.event(tk)...)
	b = append(b, '\n')
	w.buf = b
	w.prev = *tk
	w.prevOK = true
}

// event names what the judge saw change since the previous tick
// ("entered", "rim_hit", "exited", "caught", joined by '+'), or "".
func (w *Writer) event(tk *sim.Tick) string {
	if !w.prevOK {
		return "start"
	}
	ev := ""
	add := func(s string) {
		if ev != "" {
			ev += "+"
		}
		ev += s
	}
	p := &w.prev
	if tk.InPocket && !p.InPocket {
		add("entered")
	}
	if tk.RimHits > p.RimHits {
		add("rim_hit")
	}
	if tk.Exits > p.Exits {
		add("exited")
	}
	if tk.Caught && !p.Caught {
		add("caught")
	}
	if tk.Clamped {
		add("limit_clamp")
	}
	if tk.Err != "" && p.Err == "" {
		add("controller_error")
	}
	return ev
}

// End implements sim.Tracer: writes the file.
func (w *Writer) End(res *sim.TrialResult) error {
	if w.dof == 0 {
		return fmt.Errorf("trial %d: no control tick", res.Index)
	}
	js, err := json.Marshal(res)
	if err != nil {
		return err
	}
	w.buf = append(w.buf, "# result: "...)
	w.buf = append(w.buf, js...)
	w.buf = append(w.buf, '\n')
	return os.WriteFile(filepath.Join(w.Dir, EngineFileName(w.Controller, w.info.Scenario, w.info.Engine, w.Seed, res.Index)), w.buf, 0o644)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, '1')
	}
	return append(b, '0')
}

// quat converts a rotation matrix to a unit quaternion (w, x, y, z).
func quat(r *[3][3]float64) (w, x, y, z float64) {
	tr := r[0][0] + r[1][1] + r[2][2]
	switch {
	case tr > 0:
		s := 0.5 / math.Sqrt(tr+1)
		return 0.25 / s, (r[2][1] - r[1][2]) * s, (r[0][2] - r[2][0]) * s, (r[1][0] - r[0][1]) * s
	case r[0][0] > r[1][1] && r[0][0] > r[2][2]:
		s := 2 * math.Sqrt(1+r[0][0]-r[1][1]-r[2][2])
		return (r[2][1] - r[1][2]) / s, 0.25 * s, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s
	case r[1][1] > r[2][2]:
		s := 2 * math.Sqrt(1+r[1][1]-r[0][0]-r[2][2])
		return (r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, 0.25 * s, (r[1][2] + r[2][1]) / s
	}
	s := 2 * math.Sqrt(1+r[2][2]-r[0][0]-r[1][1])
	return (r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, 0.25 * s
}

var _ sim.Tracer = (*Writer)(nil)

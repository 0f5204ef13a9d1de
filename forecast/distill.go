package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Flow-map distillation (Boffi, Albergo & Vanden-Eijnden 2024), in its direct form: the
// teacher integrates the probability-flow ODE dX/ds = b − ½σ²·score from X_{s₀} ~ N(0,
// σ(s₀)²s₀) to s = 1 (Heun, TeacherSteps steps); the student X_{s,t}(x) = x + (t−s)·φ(s, t,
// x, c) is regressed onto the teacher's states on the grids of 1, 2, 3 and 4 uniform steps.

// gridU are the points of the 1–4-step grids, as fractions of [s₀, 1].
var gridU = []float64{0, 1.0 / 4, 1.0 / 3, 1.0 / 2, 2.0 / 3, 3.0 / 4, 1}

type interval struct{ a, b int } // indices into gridU

func intervals() []interval {
	idx := func(u float64) int {
		for i, g := range gridU {
			if math.Abs(g-u) < 1e-12 {
				return i
			}
		}
		panic("grid")
	}
	var out []interval
	for k := 1; k <= 4; k++ {
		for j := 0; j < k; j++ {
			out = append(out, interval{idx(float64(j) / float64(k)), idx(float64(j+1) / float64(k))})
		}
	}
	return out
}

// teacher runs the ODE for nc conditions × reps trajectories and keeps the states at gridU:
// out[(traj*len(gridU)+g)*d + k].
func teacher(m *Model, cond []float64, reps, steps int, seed uint64, progress func(int)) ([]float32, error) {
	d := m.Meta.D()
	cd := m.Meta.CondLen()
	nc := len(cond) / cd
	const condsPerBatch = 64
	nb := condsPerBatch * reps
	w := 1 + d + cd
	in := make([]float64, nb*w)
	out := make([]float64, nb*d)
	x := make([]float64, nb*d)
	xp := make([]float64, nb*d)
	k1 := make([]float64, nb*d)
	res := make([]float32, nc*reps*len(gridU)*d)
	eps, s0 := m.Meta.Eps, m.Meta.S0
	h := (1 - s0) / float64(steps)
	vel := func(s float64, xx []float64, rows, c0 int) error {
		for r := 0; r < rows; r++ {
			row := in[r*w : (r+1)*w]
			row[0] = s
			copy(row[1:], xx[r*d:(r+1)*d])
			ci := c0 + r/reps
			copy(row[1+d:], cond[ci*cd:(ci+1)*cd])
		}
		if err := m.Drift.Forward(out, in, rows); err != nil {
			return err
		}
		sig := eps * (1 - s)
		for i := range out[:rows*d] {
			out[i] += 0.5 * sig * etaOverS(s, xx[i], out[i], eps)
		}
		return nil
	}
	keep := func(j int) (int, bool) {
		u := float64(j) / float64(steps)
		for g, gu := range gridU {
			if math.Abs(gu-u) < 1e-9 {
				return g, true
			}
		}
		return 0, false
	}
	for c0 := 0; c0 < nc; c0 += condsPerBatch {
		rng := rand.New(rand.NewPCG(seed, 2<<32|uint64(c0)))
		cn := min(condsPerBatch, nc-c0)
		rows := cn * reps
		sd := eps * (1 - s0) * math.Sqrt(s0)
		for i := range x[:rows*d] {
			x[i] = sd * rng.NormFloat64()
		}
		store := func(g int) {
			for r := 0; r < rows; r++ {
				traj := c0*reps + r
				dst := res[(traj*len(gridU)+g)*d:]
				for k := 0; k < d; k++ {
					dst[k] = float32(x[r*d+k])
				}
			}
		}
		store(0)
		for j := 0; j < steps; j++ {
			s := s0 + float64(j)*h
			if err := vel(s, x, rows, c0); err != nil {
				return nil, err
			}
			copy(k1, out[:rows*d])
			for i := range xp[:rows*d] {
				xp[i] = x[i] + h*k1[i]
			}
			if err := vel(s+h, xp, rows, c0); err != nil {
				return nil, err
			}
			for i := range x[:rows*d] {
				x[i] += 0.5 * h * (k1[i] + out[i])
			}
			if g, ok := keep(j + 1); ok {
				store(g)
			}
		}
		if progress != nil {
			progress(cn)
		}
	}
	return res, nil
}

func distill(m *Model, ck *checkpoint, cfg TrainConfig, cond []float64, save func() error) error {
	d := m.Meta.D()
	cd := m.Meta.CondLen()
	nc := min(cfg.DistillConds, len(cond)/cd)
	const reps = 4
	cond = cond[:nc*cd]
	bar := newBar(cfg.Progress, nc, "teacher")
	traj, err := teacher(m, cond, reps, cfg.TeacherSteps, cfg.Seed, func(k int) { bar.Add(k) })
	if err != nil {
		return err
	}
	bar.Finish()
	if ck.Flow == nil {
		sizes := append(append([]int{2 + d + cd}, cfg.Hidden...), d)
		ck.Flow = NewMLP(sizes, rand.New(rand.NewPCG(cfg.Seed, 3)))
		ck.AdamFlow = NewAdam(ck.Flow, cfg.LR)
		ck.Step = 0
	}
	ivs := intervals()
	B := cfg.Batch
	w := 2 + d + cd
	in := make([]float64, B*w)
	tgt := make([]float64, B*d)
	dt := make([]float64, B)
	out := make([]float64, B*d)
	g := ck.Flow.NewGrads()
	s0 := m.Meta.S0
	bar = newBar(cfg.Progress, cfg.DistillSteps, "flow map")
	bar.Set(ck.Step)
	for ; ck.Step < cfg.DistillSteps; ck.Step++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, 3<<32|uint64(ck.Step)))
		for r := 0; r < B; r++ {
			tr := rng.IntN(nc * reps)
			iv := ivs[rng.IntN(len(ivs))]
			s := s0 + (1-s0)*gridU[iv.a]
			t := s0 + (1-s0)*gridU[iv.b]
			row := in[r*w : (r+1)*w]
			row[0], row[1] = s, t
			xa := traj[(tr*len(gridU)+iv.a)*d:]
			xb := traj[(tr*len(gridU)+iv.b)*d:]
			for k := 0; k < d; k++ {
				row[2+k] = float64(xa[k])
				tgt[r*d+k] = float64(xb[k])
			}
			ci := tr / reps
			copy(row[2+d:], cond[ci*cd:(ci+1)*cd])
			dt[r] = t - s
		}
		if err := ck.Flow.Forward(out, in, B); err != nil {
			return err
		}
		var loss float64
		sc := 2 / float64(B*d)
		for r := 0; r < B; r++ {
			for k := 0; k < d; k++ {
				e := in[r*w+2+k] + dt[r]*out[r*d+k] - tgt[r*d+k]
				loss += e * e
				out[r*d+k] = sc * e * dt[r]
			}
		}
		loss /= float64(B * d)
		ck.Flow.Backward(in, out, B, g)
		ck.AdamFlow.Step(ck.Flow, g, lrAt(cfg.LR, ck.Step, cfg.DistillSteps))
		ck.FlowLosses = append(ck.FlowLosses, loss)
		bar.Add(1)
		if (ck.Step+1)%cfg.CheckpointEvery == 0 {
			ck.Step++
			if err := save(); err != nil {
				return fmt.Errorf("forecast: checkpoint: %w", err)
			}
			ck.Step--
		}
	}
	bar.Finish()
	return nil
}

package forecast

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/sim"
)

// smallDataset is a light-ball dataset of n throws × 4 windows.
func smallDataset(t testing.TB, n int) (*Dataset, Meta) {
	sc, err := sim.Lookup("light-ball")
	require.NoError(t, err)
	wc := WindowConfig{PerFlight: 4}
	ws, err := SimWindows(sc, n, 7, wc)
	require.NoError(t, err)
	props := sc.BallProps()
	ds, skipped := BuildDataset(&props, ws, wc)
	require.Zero(t, skipped)
	return ds, Meta{Ball: props, Source: "sim:light-ball", Seed: 7, Episodes: n}
}

// A short run end to end (drift, diffusion choice, distillation, loss plot); run again on
// its checkpoint, it resumes at the end and returns the same model; a run stopped mid-way
// (fewer steps, then more) continues from its checkpoint.
func TestTrainCheckpointResume(t *testing.T) {
	ds, meta := smallDataset(t, 70)
	dir := t.TempDir()
	cfg := TrainConfig{Hidden: []int{16}, Steps: 40, DistillSteps: 20, DistillConds: 64, ValConds: 16, EMSteps: 4, Seed: 5,
		Checkpoint: filepath.Join(dir, "ck"), CheckpointEvery: 10, LossPNG: filepath.Join(dir, "loss.png")}
	m1, rep1, err := Train(ds, meta, cfg)
	require.NoError(t, err)
	require.False(t, rep1.Resumed)
	require.Len(t, rep1.Quality, 7) // em×2 diffusions, ode, flow 1–4
	require.Contains(t, flowNoiseScales[:], m1.Meta.FlowNoise, "the flow noise is calibrated")
	require.FileExists(t, cfg.LossPNG)
	require.NoError(t, m1.Meta.Validate())

	m2, rep2, err := Train(ds, meta, cfg)
	require.NoError(t, err)
	require.True(t, rep2.Resumed)
	require.Equal(t, "done", rep2.ResumedFromPhase)
	require.Equal(t, m1.Drift.W, m2.Drift.W)
	require.Equal(t, m1.Flow.W, m2.Flow.W)
	require.Equal(t, m1.Meta.FlowNoise, m2.Meta.FlowNoise)

	// A checkpoint mid-drift: the run continues from its step, not from 0.
	ck, err := readCheckpoint(cfg.Checkpoint)
	require.NoError(t, err)
	ck.Phase, ck.Step = "drift", 30
	ck.Losses = ck.Losses[:30]
	require.NoError(t, writeCheckpoint(cfg.Checkpoint, ck))
	_, rep3, err := Train(ds, meta, cfg)
	require.NoError(t, err)
	require.True(t, rep3.Resumed)
	require.Equal(t, 30, rep3.ResumedFromStep)
}

// The flow sampler's held-out 90% coverage grows with its starting-noise scale (what the
// calibration relies on), and the calibrated scale is the one nearest 90%.
func TestFlowNoiseCalibration(t *testing.T) {
	ds, meta := smallDataset(t, 70)
	cfg := TrainConfig{Hidden: []int{16}, Steps: 60, DistillSteps: 30, DistillConds: 64, ValConds: 40, EMSteps: 4, Seed: 3}
	m, _, err := Train(ds, meta, cfg)
	require.NoError(t, err)
	d := m.Meta.D()
	nVal := 40
	cond := make([]float64, nVal*CondDim)
	n := ds.Len()
	for i := 0; i < nVal; i++ {
		copy(cond[i*CondDim:], ds.Cond[(n-nVal+i)*CondDim:(n-nVal+i+1)*CondDim])
		m.Meta.normCond(cond[i*CondDim : (i+1)*CondDim])
	}
	res := ds.Res[(n-nVal)*d:]
	lo, err := flowCoverage90(m, 0.2, cond, res, 1)
	require.NoError(t, err)
	hi, err := flowCoverage90(m, 3, cond, res, 1)
	require.NoError(t, err)
	require.Less(t, lo, hi)
	best, cov, err := calibrateFlowNoise(m, cond, res, 1)
	require.NoError(t, err)
	f, err := NewInterpolant(m, nil, nil, SamplerConfig{})
	require.NoError(t, err)
	require.Equal(t, m.Meta.FlowNoise, f.FlowNoise(), "the sampler defaults to the model's calibrated scale")
	f, err = NewInterpolant(m, nil, nil, SamplerConfig{FlowNoise: 2})
	require.NoError(t, err)
	require.Equal(t, 2.0, f.FlowNoise(), "a configured scale wins")
	for _, s := range flowNoiseScales {
		c, err := flowCoverage90(m, s, cond, res, 1)
		require.NoError(t, err)
		require.LessOrEqual(t, math.Abs(cov-0.9), math.Abs(c-0.9)+1e-12, "scale %v covers %v, the pick %v covers %v", s, c, best, cov)
	}
}

// A checkpoint records the settings and the dataset: a run with other arguments (a smaller
// network, another seed, other data) is refused, naming what differs, unless forced (the
// old Train resumed from any checkpoint and wrote the old network); a run killed in the
// diffusion-selection phase keeps the scores already computed (the old one started the
// phase over).
func TestTrainCheckpointSettings(t *testing.T) {
	ds, meta := smallDataset(t, 70)
	cfg := TrainConfig{Hidden: []int{16}, Steps: 40, DistillSteps: -1, ValConds: 16, EMSteps: 4, Seed: 5,
		Checkpoint: filepath.Join(t.TempDir(), "ck")}
	_, rep, err := Train(ds, meta, cfg)
	require.NoError(t, err)
	require.Len(t, rep.Quality, 2)

	small := cfg
	small.Hidden = []int{8}
	seed := cfg
	seed.Seed = 6
	other, _ := smallDataset(t, 71)
	for _, tc := range []struct {
		name string
		cfg  TrainConfig
		ds   *Dataset
		want string
	}{
		{"hidden", small, ds, "Hidden: checkpoint [16], now [8]"},
		{"seed", seed, ds, "Seed: checkpoint 5, now 6"},
		{"data", cfg, other, "DataFNV: checkpoint"},
	} {
		_, _, err := Train(tc.ds, meta, tc.cfg)
		require.ErrorContains(t, err, tc.want, tc.name)
		tc.cfg.Force = true
		_, rep, err := Train(tc.ds, meta, tc.cfg)
		require.NoError(t, err, tc.name)
		require.True(t, rep.Resumed, tc.name)
		// The forced run rewrote the checkpoint with its settings: put the original back.
		_, _, err = Train(ds, meta, TrainConfig{Hidden: cfg.Hidden, Steps: cfg.Steps, DistillSteps: -1, ValConds: 16, EMSteps: 4, Seed: 5,
			Checkpoint: cfg.Checkpoint, Force: true})
		require.NoError(t, err)
	}

	// Killed during selection after the first diffusion was scored: the resumed run keeps
	// that score (a sentinel here) and computes only the second.
	ck, err := readCheckpoint(cfg.Checkpoint)
	require.NoError(t, err)
	ck.Phase = "select"
	ck.Quality = []Quality{{Method: MethodEM, Steps: 4, Diffusion: DiffusionSigma, EnergyScore: 0.123}}
	require.NoError(t, writeCheckpoint(cfg.Checkpoint, ck))
	_, rep, err = Train(ds, meta, cfg)
	require.NoError(t, err)
	require.Equal(t, "select", rep.ResumedFromPhase)
	require.Len(t, rep.Quality, 2)
	require.Equal(t, 0.123, rep.Quality[0].EnergyScore, "the saved score is kept, not recomputed")
	require.Equal(t, DiffusionFollmer, rep.Quality[1].Diffusion)
}

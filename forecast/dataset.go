package forecast

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/sim"
)

// Window is one forecasting problem: the observations available at Now and the true
// future positions at the horizons.
type Window struct {
	Now     float64
	History []Obs     // capture times ≤ Now − latency, oldest first
	Truth   []float64 // H×3, m
	// Flight identifies the flight the window came from (throw index or file:segment).
	Flight string
}

// WindowConfig says where in a flight forecasts are asked for.
type WindowConfig struct {
	Horizons Horizons  `yaml:"horizons" json:"horizons"`
	Fit      FitConfig `yaml:"fit" json:"fit"`
	// PerFlight is the number of windows drawn from each flight; default 1.
	PerFlight int `yaml:"per_flight" json:"per_flight"`
	// MinHistory is the least time between the first available observation and Now, s;
	// default 0.06.
	MinHistory float64 `yaml:"min_history_s" json:"min_history_s"`
	// MaxNow is the latest Now after release in simulated throws, s; default 0.45 (the
	// forecast then reaches past the catch at ≈0.87 s).
	MaxNow float64 `yaml:"max_now_s" json:"max_now_s"`
}

// WithDefaults fills zero fields.
func (c WindowConfig) WithDefaults() WindowConfig {
	c.Horizons = c.Horizons.WithDefaults()
	c.Fit = c.Fit.WithDefaults()
	if c.PerFlight == 0 {
		c.PerFlight = 1
	}
	if c.MinHistory == 0 {
		c.MinHistory = 0.06
	}
	if c.MaxNow == 0 {
		c.MaxNow = 0.45
	}
	return c
}

// SimWindows draws windows from n throws of a scenario: throw i from sim.TrialRand(seed, i),
// observed at the scenario's camera rate with its noise, dropouts and latency (the state
// fidelity of package sim), the truth integrated at sim.PhysicsStep.
func SimWindows(sc *sim.Scenario, n int, seed uint64, cfg WindowConfig) ([]Window, error) {
	cfg = cfg.WithDefaults()
	if n < 1 {
		return nil, fmt.Errorf("forecast: %d flights, want ≥ 1", n)
	}
	var out []Window
	for i := 0; i < n; i++ {
		rng := sim.TrialRand(seed, i)
		th := sc.Sample(rng)
		ws := simFlight(&th, rng, cfg)
		for j := range ws {
			ws[j].Flight = fmt.Sprintf("%s/%d", sc.Name, i)
		}
		out = append(out, ws...)
	}
	return out, nil
}

func simFlight(th *sim.Throw, rng *rand.Rand, cfg WindowConfig) []Window {
	dt := sim.PhysicsStep
	lat := th.Obs.LatencyMS / 1000
	camEvery := int(math.Max(1, math.Round(1/(th.Obs.RateHz*dt))))
	camPhase := rng.IntN(camEvery)
	firstAvail := float64(camPhase)*dt + lat
	lo := firstAvail + cfg.MinHistory
	hi := math.Max(cfg.MaxNow, lo)
	nows := make([]float64, cfg.PerFlight)
	for j := range nows {
		nows[j] = math.Round((lo+(hi-lo)*rng.Float64())/dt) * dt
	}
	tEnd := hi + float64(cfg.Horizons.H)*cfg.Horizons.Dt + 0.01
	steps := int(math.Ceil(tEnd/dt)) + 1
	truth := make([]ball.Vec, steps)
	var obs []Obs
	props := th.Ball
	b := th.Init
	for i := 0; i < steps; i++ {
		t := float64(i) * dt
		truth[i] = b.P
		if (i-camPhase)%camEvery == 0 && i >= camPhase && t <= hi {
			if !(th.Obs.Dropout > 0 && rng.Float64() < th.Obs.Dropout) {
				nz := th.Obs.NoiseM
				obs = append(obs, Obs{T: t, P: ball.Vec{b.P[0] + nz*rng.NormFloat64(), b.P[1] + nz*rng.NormFloat64(), b.P[2] + nz*rng.NormFloat64()}})
			}
		}
		props.Step(&b, dt)
	}
	at := func(t float64) ball.Vec {
		x := t / dt
		i := int(math.Floor(x))
		f := x - float64(i)
		if i+1 >= len(truth) {
			return truth[len(truth)-1]
		}
		a, c := truth[i], truth[i+1]
		return ball.Vec{a[0] + f*(c[0]-a[0]), a[1] + f*(c[1]-a[1]), a[2] + f*(c[2]-a[2])}
	}
	var out []Window
	for _, now := range nows {
		k := sort.Search(len(obs), func(i int) bool { return obs[i].T > now-lat+1e-9 })
		w := Window{Now: now, History: obs[:k:k], Truth: make([]float64, cfg.Horizons.H*3)}
		for h := 0; h < cfg.Horizons.H; h++ {
			p := at(now + float64(h+1)*cfg.Horizons.Dt)
			copy(w.Truth[h*3:], p[:])
		}
		out = append(out, w)
	}
	return out
}

// FlightWindows draws windows from recorded flights: Now runs from MinHistory after a
// flight's first observation in steps of stride, as long as the flight lasts minCover
// beyond Now (the full horizon when minCover ≤ 0 or beyond it); observations count as
// available latency after capture; the truth is the recording interpolated linearly to the
// horizons, NaN for horizons after the flight's end (Evaluate scores the covered part). A
// horizon within boundaryTol of the flight's last sample takes that sample, so that a
// window whose last truth lands on the end (up to rounding) is covered there.
func FlightWindows(flights []Flight, latency, stride, minCover float64, cfg WindowConfig) []Window {
	cfg = cfg.WithDefaults()
	span := float64(cfg.Horizons.H) * cfg.Horizons.Dt
	if minCover <= 0 || minCover > span {
		minCover = span
	}
	var out []Window
	for _, fl := range flights {
		t0, t1 := fl.T[0], fl.T[len(fl.T)-1]
		start := t0 + latency + cfg.MinHistory
		for i := 0; ; i++ {
			now := start + float64(i)*stride
			if now+minCover > t1+boundaryTol {
				break
			}
			k := sort.Search(len(fl.T), func(i int) bool { return fl.T[i] > now-latency+1e-12 })
			w := Window{Now: now, Flight: fl.Name, Truth: make([]float64, cfg.Horizons.H*3)}
			for i := 0; i < k; i++ {
				w.History = append(w.History, Obs{T: fl.T[i], P: fl.P[i]})
			}
			for h := 0; h < cfg.Horizons.H; h++ {
				tt := now + float64(h+1)*cfg.Horizons.Dt
				if tt > t1+boundaryTol {
					for c := 0; c < 3; c++ {
						w.Truth[h*3+c] = math.NaN()
					}
					continue
				}
				tt = math.Min(tt, t1)
				j := sort.SearchFloat64s(fl.T, tt)
				if j == 0 {
					j = 1
				}
				f := (tt - fl.T[j-1]) / (fl.T[j] - fl.T[j-1])
				for c := 0; c < 3; c++ {
					w.Truth[h*3+c] = fl.P[j-1][c] + f*(fl.P[j][c]-fl.P[j-1][c])
				}
			}
			out = append(out, w)
		}
	}
	return out
}

// boundaryTol is how far past a flight's last sample a horizon still counts as on it, s:
// rounding of Now + h·Dt, far below any camera period.
const boundaryTol = 1e-6

// Dataset is the training set of the interpolant: per example the raw condition
// (CondDim, see Fit.Cond) and the residual of the truth from the drag-model extrapolation in
// the heading frame (D = H×3, m). A Residual's dataset (ResidualDataset) has CondKind
// CondEstimate: EstimateCondDim values of EstimateCond, the residual from the estimate
// flown on.
type Dataset struct {
	Horizons Horizons
	CondKind string    // Meta.CondKind of a model trained on it
	Cond     []float64 // n×CondLen
	Res      []float64 // n×D
}

// CondLen is the length of an example's condition.
func (d *Dataset) CondLen() int { return condLen(d.CondKind) }

// Len is the number of examples.
func (d *Dataset) Len() int { return len(d.Cond) / d.CondLen() }

// D is the residual dimension.
func (d *Dataset) D() int { return d.Horizons.H * 3 }

// BuildDataset turns windows into examples; windows whose fit fails are skipped and
// counted.
func BuildDataset(props *ball.Props, windows []Window, cfg WindowConfig) (*Dataset, int) {
	cfg = cfg.WithDefaults()
	hz := cfg.Horizons
	ds := &Dataset{Horizons: hz}
	ref := make([]float64, hz.H*3)
	var c [CondDim]float64
	skipped := 0
	for _, w := range windows {
		fit, ok := FitWindow(props, cfg.Fit, w.History, w.Now)
		if !ok {
			skipped++
			continue
		}
		fit.Cond(cfg.Fit.MaxObs, c[:])
		Reference(props, &fit, hz.Dt, hz.H, ref)
		fr := NewFrame(fit.V)
		ds.Cond = append(ds.Cond, c[:]...)
		for h := 0; h < hz.H; h++ {
			r := fr.ToLocal(ball.Vec{w.Truth[h*3] - ref[h*3], w.Truth[h*3+1] - ref[h*3+1], w.Truth[h*3+2] - ref[h*3+2]})
			ds.Res = append(ds.Res, r[:]...)
		}
	}
	return ds, skipped
}

const datasetMagic = "CATCHFDS"

// WriteTo writes the dataset in its binary format: the magic "CATCHFDS", version 1, dt
// (float64), H, the condition length (CondDim, or EstimateCondDim for CondKind
// CondEstimate), n (uint32), then Cond and Res as little-endian float64.
func (d *Dataset) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	cw := &countWriter{w: bw}
	cw.Write([]byte(datasetMagic))
	binary.Write(cw, binary.LittleEndian, uint32(1))
	binary.Write(cw, binary.LittleEndian, d.Horizons.Dt)
	binary.Write(cw, binary.LittleEndian, [3]uint32{uint32(d.Horizons.H), uint32(d.CondLen()), uint32(d.Len())})
	binary.Write(cw, binary.LittleEndian, d.Cond)
	binary.Write(cw, binary.LittleEndian, d.Res)
	if cw.err != nil {
		return cw.n, cw.err
	}
	return cw.n, bw.Flush()
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// ReadDataset reads a dataset written by WriteTo.
func ReadDataset(r io.Reader) (*Dataset, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(datasetMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != datasetMagic {
		return nil, errors.New("forecast: dataset: not a catch forecast dataset (bad magic)")
	}
	var ver uint32
	var dt float64
	var dims [3]uint32
	if err := binary.Read(br, binary.LittleEndian, &ver); err != nil || ver != 1 {
		return nil, fmt.Errorf("forecast: dataset: version %d, want 1", ver)
	}
	if err := binary.Read(br, binary.LittleEndian, &dt); err != nil {
		return nil, fmt.Errorf("forecast: dataset: header: %w", err)
	}
	if err := binary.Read(br, binary.LittleEndian, &dims); err != nil {
		return nil, fmt.Errorf("forecast: dataset: header: %w", err)
	}
	kind := ""
	switch dims[1] {
	case CondDim:
	case EstimateCondDim:
		kind = CondEstimate
	default:
		return nil, fmt.Errorf("forecast: dataset: condition has %d values, this build uses %d (window fit) or %d (estimate)", dims[1], CondDim, EstimateCondDim)
	}
	hz := Horizons{Dt: dt, H: int(dims[0])}
	if err := hz.Validate(); err != nil || dims[2] > 1<<26 {
		return nil, fmt.Errorf("forecast: dataset: bad header (dt %g, H %d, n %d)", dt, dims[0], dims[2])
	}
	n := int(dims[2])
	d := &Dataset{Horizons: hz, CondKind: kind, Cond: make([]float64, n*int(dims[1])), Res: make([]float64, n*hz.H*3)}
	if err := binary.Read(br, binary.LittleEndian, d.Cond); err != nil {
		return nil, fmt.Errorf("forecast: dataset: truncated conditions: %w", err)
	}
	if err := binary.Read(br, binary.LittleEndian, d.Res); err != nil {
		return nil, fmt.Errorf("forecast: dataset: truncated residuals: %w", err)
	}
	return d, nil
}

// CompleteWindows fills the horizons that recorded windows lack (NaN truth: the flight
// piece ends at a bounce or a hit before the horizon does) with the piece's free flight:
// its state and spin fitted to all of its observations with props held fixed
// (ball.Residuals), flown on past its end. Training on recorded flights then keeps every
// pre-bounce window with a full-length target whose first part is the recording and whose
// rest is the flight the ball would have flown; evaluation keeps the NaN (it scores the
// recorded part only). It returns the number of windows completed and of windows dropped
// because their piece could not be fitted (fewer than 8 observations).
func CompleteWindows(props ball.Props, flights []Flight, windows []Window, dt float64) (out []Window, completed, dropped int) {
	fits := map[string]ball.TrackFit{}
	t0 := map[string]float64{}
	for _, fl := range flights {
		r := ball.Residuals(props, []ball.Track{{Name: fl.Name, T: fl.T, P: fl.P}}, ball.FitConfig{})
		if len(r) == 1 {
			fits[fl.Name] = r[0]
			t0[fl.Name] = fl.T[0]
		}
	}
	out = windows[:0:0]
	for _, w := range windows {
		h := len(w.Truth) / 3
		first := h
		for first > 0 && math.IsNaN(w.Truth[(first-1)*3]) {
			first--
		}
		if first == h {
			out = append(out, w)
			continue
		}
		f, ok := fits[w.Flight]
		if !ok {
			dropped++
			continue
		}
		s := f.Init
		props.Propagate(&s, w.Now+float64(first+1)*dt-t0[w.Flight], 0)
		tr := append([]float64(nil), w.Truth...)
		for k := first; k < h; k++ {
			if k > first {
				props.Propagate(&s, dt, 0)
			}
			copy(tr[k*3:k*3+3], s.P[:])
		}
		w.Truth = tr
		out = append(out, w)
		completed++
	}
	return out, completed, dropped
}

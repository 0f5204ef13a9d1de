package forecast

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

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

// Flight is one recorded flight: capture times (s) and positions (m), increasing in time.
type Flight struct {
	Name string
	T    []float64
	P    []ball.Vec
}

// CutConfig says where recorded flights are cut.
type CutConfig struct {
	// MaxGap cuts at a gap between observations longer than this, s; default 0.1.
	MaxGap float64
	// MinDuration drops pieces shorter than this, s; default 0.2.
	MinDuration float64
}

// ReadFlights reads recorded flights from a CSV file or from every *.csv file of a
// directory. A file needs a header with `t` (s) or `t_ns` (ns) and `x,y,z` or
// `x_m,y_m,z_m` (m); other columns are ignored. Flights are cut at gaps longer than
// MaxGap and at bounces (a local minimum of height, or a jump of the velocity).
func ReadFlights(path string, cut CutConfig) ([]Flight, error) {
	if cut.MaxGap == 0 {
		cut.MaxGap = 0.1
	}
	if cut.MinDuration == 0 {
		cut.MinDuration = 0.2
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("forecast: trajectories: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "*.csv"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("forecast: trajectories: no *.csv files in %s", path)
		}
	}
	var out []Flight
	for _, f := range files {
		t, p, err := readCSV(f)
		if err != nil {
			return nil, err
		}
		for i, fl := range cutFlights(t, p, cut) {
			fl.Name = fmt.Sprintf("%s:%d", filepath.Base(f), i)
			out = append(out, fl)
		}
	}
	return out, nil
}

func readCSV(path string) ([]float64, []ball.Vec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("forecast: trajectories: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("forecast: trajectories %s: no header line: %w", path, err)
	}
	head = append([]string(nil), head...) // the reader reuses its record slice
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	pick := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	it, tScale := pick("t"), 1.0
	if it < 0 {
		it, tScale = pick("t_ns"), 1e-9
	}
	ix, iy, iz := pick("x", "x_m"), pick("y", "y_m"), pick("z", "z_m")
	if it < 0 || ix < 0 || iy < 0 || iz < 0 {
		return nil, nil, fmt.Errorf("forecast: trajectories %s: header %q lacks a time column (t in s or t_ns in ns) or a position column (x,y,z or x_m,y_m,z_m in m)", path, strings.Join(head, ","))
	}
	var ts []float64
	var ps []ball.Vec
	var t0 int64
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("forecast: trajectories %s: %w", path, err)
		}
		var t float64
		if tScale == 1 {
			t, err = strconv.ParseFloat(strings.TrimSpace(rec[it]), 64)
		} else {
			// ns timestamps are ~1.7e18: subtract the first before converting to keep precision.
			var ns int64
			ns, err = strconv.ParseInt(strings.TrimSpace(rec[it]), 10, 64)
			if err == nil {
				if len(ts) == 0 {
					t0 = ns
				}
				t = float64(ns-t0) * 1e-9
			}
		}
		if err != nil || !finite(t) {
			return nil, nil, fmt.Errorf("forecast: trajectories %s line %d: time %q is not a number", path, line, rec[it])
		}
		var p ball.Vec
		for k, i := range []int{ix, iy, iz} {
			p[k], err = strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil || !finite(p[k]) {
				return nil, nil, fmt.Errorf("forecast: trajectories %s line %d: %s %q is not a number", path, line, head[i], rec[i])
			}
		}
		if len(ts) > 0 && t <= ts[len(ts)-1] {
			return nil, nil, fmt.Errorf("forecast: trajectories %s line %d: time %g s is not after the previous %g s", path, line, t, ts[len(ts)-1])
		}
		ts = append(ts, t)
		ps = append(ps, p)
	}
	if len(ts) == 0 {
		return nil, nil, fmt.Errorf("forecast: trajectories %s: no data rows", path)
	}
	return ts, ps, nil
}

// cutFlights splits a recording at gaps and bounces. A bounce (or a hit) shows as a local
// minimum of the height with the ball falling before and rising after, or as a velocity
// jump; both are judged on 3-sample differences so that tracker noise does not cut.
func cutFlights(t []float64, p []ball.Vec, cut CutConfig) []Flight {
	const k = 3       // samples each side for the velocity estimates
	const vzMin = 0.3 // m/s: falling before and rising after a bounce
	const jump = 1.5  // m/s: velocity change that no free flight makes in 2·k samples
	cuts := []int{0}
	contact := map[int]bool{} // cuts at a bounce drop the contact sample itself
	vel := func(a, b int) ball.Vec {
		d := t[b] - t[a]
		return ball.Vec{(p[b][0] - p[a][0]) / d, (p[b][1] - p[a][1]) / d, (p[b][2] - p[a][2]) / d}
	}
	last := 0
	for i := 1; i < len(t); i++ {
		if t[i]-t[i-1] > cut.MaxGap {
			cuts = append(cuts, i)
			last = i
			continue
		}
		if i-k < last || i+k >= len(t) {
			continue
		}
		// no gap inside the stencil
		if t[i+k]-t[i-k] > 2*float64(k)*cut.MaxGap {
			continue
		}
		vb, va := vel(i-k, i), vel(i, i+k)
		dv := math.Sqrt((va[0]-vb[0])*(va[0]-vb[0]) + (va[1]-vb[1])*(va[1]-vb[1]) + (va[2]-vb[2])*(va[2]-vb[2]))
		if (vb[2] < -vzMin && va[2] > vzMin) || dv > jump+9.81*(t[i+k]-t[i-k]) {
			cuts = append(cuts, i)
			contact[i] = true
			last = i
			i += k
		}
	}
	cuts = append(cuts, len(t))
	var out []Flight
	for j := 0; j+1 < len(cuts); j++ {
		a, b := cuts[j], cuts[j+1]
		if contact[a] {
			a++
		}
		if b-a < 2 || t[b-1]-t[a] < cut.MinDuration {
			continue
		}
		out = append(out, Flight{T: append([]float64(nil), t[a:b]...), P: append([]ball.Vec(nil), p[a:b]...)})
	}
	return out
}

// FlightWindows draws windows from recorded flights: Now runs from MinHistory after a
// flight's first observation in steps of stride, as long as the flight lasts minCover
// beyond Now (the full horizon when minCover ≤ 0); observations count as available latency
// after capture; the truth is the recording interpolated linearly to the horizons, NaN for
// horizons after the flight's end (Evaluate scores the covered part).
func FlightWindows(flights []Flight, latency, stride, minCover float64, cfg WindowConfig) []Window {
	cfg = cfg.WithDefaults()
	span := float64(cfg.Horizons.H) * cfg.Horizons.Dt
	if minCover <= 0 || minCover > span {
		minCover = span
	}
	var out []Window
	for _, fl := range flights {
		t0, t1 := fl.T[0], fl.T[len(fl.T)-1]
		for now := t0 + latency + cfg.MinHistory; now+minCover <= t1+1e-9; now += stride {
			k := sort.Search(len(fl.T), func(i int) bool { return fl.T[i] > now-latency+1e-12 })
			w := Window{Now: now, Flight: fl.Name, Truth: make([]float64, cfg.Horizons.H*3)}
			for i := 0; i < k; i++ {
				w.History = append(w.History, Obs{T: fl.T[i], P: fl.P[i]})
			}
			for h := 0; h < cfg.Horizons.H; h++ {
				tt := now + float64(h+1)*cfg.Horizons.Dt
				if tt > t1 {
					for c := 0; c < 3; c++ {
						w.Truth[h*3+c] = math.NaN()
					}
					continue
				}
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

// Dataset is the training set of the interpolant: per example the raw condition
// (CondDim, see Fit.Cond) and the residual of the truth from the drag-model extrapolation in
// the heading frame (D = H×3, m).
type Dataset struct {
	Horizons Horizons
	Cond     []float64 // n×CondDim
	Res      []float64 // n×D
}

// Len is the number of examples.
func (d *Dataset) Len() int { return len(d.Cond) / CondDim }

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
// (float64), H, CondDim, n (uint32), then Cond and Res as little-endian float64.
func (d *Dataset) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	cw := &countWriter{w: bw}
	cw.Write([]byte(datasetMagic))
	binary.Write(cw, binary.LittleEndian, uint32(1))
	binary.Write(cw, binary.LittleEndian, d.Horizons.Dt)
	binary.Write(cw, binary.LittleEndian, [3]uint32{uint32(d.Horizons.H), CondDim, uint32(d.Len())})
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
	if dims[1] != CondDim {
		return nil, fmt.Errorf("forecast: dataset: condition has %d values, this build uses %d", dims[1], CondDim)
	}
	hz := Horizons{Dt: dt, H: int(dims[0])}
	if err := hz.Validate(); err != nil || dims[2] > 1<<26 {
		return nil, fmt.Errorf("forecast: dataset: bad header (dt %g, H %d, n %d)", dt, dims[0], dims[2])
	}
	n := int(dims[2])
	d := &Dataset{Horizons: hz, Cond: make([]float64, n*CondDim), Res: make([]float64, n*hz.H*3)}
	if err := binary.Read(br, binary.LittleEndian, d.Cond); err != nil {
		return nil, fmt.Errorf("forecast: dataset: truncated conditions: %w", err)
	}
	if err := binary.Read(br, binary.LittleEndian, d.Res); err != nil {
		return nil, fmt.Errorf("forecast: dataset: truncated residuals: %w", err)
	}
	return d, nil
}

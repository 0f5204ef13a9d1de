package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
)

// flightCSV is a simulated table-tennis flight as a recorded file would hold it: 1 mm
// tracker noise at 180 Hz, stamps rounded to 1 µs. mapRow rewrites each row (t s, p m) into
// the CSV line; the header is given.
func flightCSV(seed uint64, head string, mapRow func(t float64, p ball.Vec) string) string {
	props, _ := ball.ByName("table-tennis")
	rng := rand.New(rand.NewPCG(seed, 1))
	s := ball.State{P: ball.Vec{0, 3, 1.3}, V: ball.Vec{0.3 * rng.NormFloat64(), -4.5, 1.5}, W: ball.Vec{-50, 0, 0}}
	var b strings.Builder
	b.WriteString(head + "\n")
	const dt = 1.0 / 180
	for i := 0; i < 110; i++ { // 0.61 s
		t := math.Round(float64(i)*dt*1e6) / 1e6
		p := ball.Vec{s.P[0] + 1e-3*rng.NormFloat64(), s.P[1] + 1e-3*rng.NormFloat64(), s.P[2] + 1e-3*rng.NormFloat64()}
		b.WriteString(mapRow(t, p) + "\n")
		props.Step(&s, dt)
	}
	return b.String()
}

func rowTNS(t float64, p ball.Vec) string {
	return fmt.Sprintf("%d,%.6f,%.6f,%.6f", int64(1669130908187064832)+int64(math.Round(t*1e9)), p[0], p[1], p[2])
}

// One bad file must not abort a directory: it is skipped with its reason, repeated stamps
// are dropped and counted, and the good files are read.
func TestReadFlightsSkipsAndCounts(t *testing.T) {
	dir := t.TempDir()
	good := flightCSV(1, "t_ns,x_m,y_m,z_m", rowTNS)
	writeFile(t, dir, "a.csv", good)
	// b: a repeated row (the same stamp twice) and a row stamped before its predecessor
	lines := strings.Split(flightCSV(2, "t_ns,x_m,y_m,z_m", rowTNS), "\n")
	lines = append(lines[:40], append([]string{lines[39]}, lines[40:]...)...)
	lines[60], lines[61] = lines[61], lines[60]
	writeFile(t, dir, "b.csv", strings.Join(lines, "\n"))
	writeFile(t, dir, "c.csv", "t,x,y,z\n0,1,2,3\n0.1,1,abc,3\n")

	fl, rep, err := ReadFlights(dir, CutConfig{})
	require.NoError(t, err)
	require.Equal(t, 3, rep.Files)
	require.Equal(t, 2, rep.FilesRead)
	require.Len(t, rep.Skipped, 1)
	require.Equal(t, "c.csv", rep.Skipped[0].File)
	require.Contains(t, rep.Skipped[0].Reason, `"abc" is not a number`)
	require.Equal(t, 1, rep.Duplicates)
	require.Equal(t, 1, rep.OutOfOrder) // the swapped pair: the later stamp is kept, the earlier dropped
	require.Equal(t, 110+111, rep.Rows)
	require.Len(t, fl, 2)
	require.Equal(t, 2, rep.Pieces)
	require.Len(t, rep.Warnings(), 2)
	for _, f := range fl {
		for i := 1; i < len(f.T); i++ {
			require.Greater(t, f.T[i], f.T[i-1])
		}
	}
	// a single bad file is an error; a directory of bad files is an error naming the first
	_, _, err = ReadFlights(filepath.Join(dir, "c.csv"), CutConfig{})
	require.ErrorContains(t, err, "c.csv")
	bad := t.TempDir()
	writeFile(t, bad, "c.csv", "t,x,y,z\n0,1,2,3\n0.1,1,abc,3\n")
	_, rep, err = ReadFlights(bad, CutConfig{})
	require.ErrorContains(t, err, "1 of 1 files skipped")
	require.ErrorContains(t, err, "abc")
}

// Files in the wrong units or with swapped axes are named with the unit or axis they look
// like, instead of running on as if they were flights.
func TestReadFlightsUnitsAndAxes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, head string
		row        func(t float64, p ball.Vec) string
		want       string
	}{
		{"mm.csv", "t,x,y,z", func(t float64, p ball.Vec) string {
			return fmt.Sprintf("%.6f,%.3f,%.3f,%.3f", t, 1000*p[0], 1000*p[1], 1000*p[2])
		}, "positions in mm"},
		{"ms.csv", "t,x,y,z", func(t float64, p ball.Vec) string {
			return fmt.Sprintf("%.3f,%.6f,%.6f,%.6f", 1000*t, p[0], p[1], p[2])
		}, "times in ms"},
		{"us.csv", "t_ns,x_m,y_m,z_m", func(t float64, p ball.Vec) string {
			return fmt.Sprintf("%d,%.6f,%.6f,%.6f", int64(math.Round(t*1e6)), p[0], p[1], p[2])
		}, "t_ns values in µs"},
		{"yz.csv", "t,x,y,z", func(t float64, p ball.Vec) string {
			return fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", t, p[0], p[2], p[1])
		}, "gravity appears along −y: are y and z swapped?"},
		{"xz.csv", "t,x,y,z", func(t float64, p ball.Vec) string {
			return fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", t, p[2], p[1], p[0])
		}, "gravity appears along −x: are x and z swapped?"},
		{"down.csv", "t,x,y,z", func(t float64, p ball.Vec) string {
			return fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", t, p[0], p[1], -p[2])
		}, "gravity appears along +z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadFlights(writeFile(t, dir, tc.name, flightCSV(3, tc.head, tc.row)), CutConfig{})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, tc.name)
		})
	}
	// the same flight in metres and seconds passes, and gravity is found
	_, rep, err := ReadFlights(writeFile(t, dir, "ok.csv", flightCSV(3, "t,x,y,z", func(t float64, p ball.Vec) string {
		return fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", t, p[0], p[1], p[2])
	})), CutConfig{})
	require.NoError(t, err)
	// gravity plus the drag and backspin lift of a 5 m/s table-tennis ball (≈ 3 m/s²)
	require.InDelta(t, -9.8, rep.Accel[2], 4)
}

// A window whose last scored truth lands on the flight's last sample (up to the rounding of
// Now + h·Dt) is covered there: no NaN at 0.3 s, whatever the flight's length, latency,
// stride and stamp grid (1 ms stamps, as many trackers write, put Now + 0.3 s on the last
// stamp up to rounding).
func TestFlightWindowsBoundary(t *testing.T) {
	cfg := WindowConfig{}
	hAt := 14 // 0.3 s at 20 ms
	n := 0
	for _, dt := range []float64{0.001, 0.005} {
		for _, lat := range []float64{0, 0.001, 0.002, 0.01} {
			for _, stride := range []float64{0.01, 0.02, 0.05} {
				for k := 360; k < 700; k += 11 {
					fl := Flight{Name: fmt.Sprint(k)}
					for i := 0; i <= int(float64(k)*0.001/dt); i++ {
						fl.T = append(fl.T, float64(i)*dt)
						fl.P = append(fl.P, ball.Vec{float64(i), 0, 1})
					}
					for _, w := range FlightWindows([]Flight{fl}, lat, stride, 0.3, cfg) {
						n++
						for c := 0; c < 3; c++ {
							require.False(t, math.IsNaN(w.Truth[hAt*3+c]), "flight to %g s, latency %g, stride %g: window at %.17g s", fl.T[len(fl.T)-1], lat, stride, w.Now)
						}
					}
				}
			}
		}
	}
	require.Greater(t, n, 1000)
}

// constForecaster forecasts a fixed offset from the newest observation, and skips windows
// with fewer than minObs observations (a fake for testing the scoring logic).
type constForecaster struct {
	off    float64
	minObs int
}

func (c constForecaster) Horizons() (float64, int) { return DefaultDt, DefaultH }
func (c constForecaster) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	if len(in.History) < c.minObs {
		return ErrNoCondition
	}
	p := in.History[len(in.History)-1].P
	for i := 0; i < dst.N; i++ {
		for h := 0; h < DefaultH; h++ {
			for k := 0; k < 3; k++ {
				dst.Pos[i*DefaultH*3+h*3+k] = p[k] + c.off + 0.01*rng.NormFloat64()
			}
		}
	}
	return nil
}

// When one forecaster skips windows, comparing the two must use the windows both forecast.
func TestEvaluateCommonWindows(t *testing.T) {
	var ws []Window
	for i := 0; i < 20; i++ {
		w := Window{Now: 1, Truth: make([]float64, DefaultH*3), Flight: fmt.Sprint(i)}
		for j := 0; j <= i; j++ {
			w.History = append(w.History, Obs{T: float64(j) * 0.01, P: ball.Vec{0, 0, 0}})
		}
		// windows with a long history are the hard ones (truth far off)
		for h := range w.Truth {
			w.Truth[h] = 0.02 * float64(i)
		}
		ws = append(ws, w)
	}
	cfg := EvalConfig{Samples: 16, Seed: 1}
	a, err := Evaluate("a", constForecaster{}, nil, ws, cfg)
	require.NoError(t, err)
	b, err := Evaluate("b", constForecaster{minObs: 11}, nil, ws, cfg)
	require.NoError(t, err)
	require.Equal(t, 20, a.Windows)
	require.Equal(t, 10, b.Windows)
	require.Equal(t, 10, b.Skipped)
	// over all windows a looks better than b only because b skipped the easy ones
	require.Less(t, a.EnergyScore, b.EnergyScore)
	keep, n := Common(&a, &b)
	require.Equal(t, 10, n)
	ac, bc := Summarise(a, keep), Summarise(b, keep)
	require.Equal(t, 10, ac.Windows)
	require.Equal(t, 10, bc.Windows)
	// the same forecast (up to sampling noise, σ = 1 cm) on the same windows
	require.InDelta(t, 1, ac.EnergyScore/bc.EnergyScore, 0.02)

	// a window with no truth at 0.3 s is an error, not a NaN
	ws[3].Truth[14*3] = math.NaN()
	_, err = Evaluate("a", constForecaster{}, nil, ws, cfg)
	require.ErrorContains(t, err, "no truth 0.3 s ahead")
}

// A trial log of the project (JSON lines) is read as recordings: each throw's ball
// observations, on the capture stamps.
func TestReadFlightsTrialLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trials.jsonl")
	w, err := triallog.Open(path, triallog.Options{NoSync: true})
	require.NoError(t, err)
	props, _ := ball.ByName("tennis")
	for seq := 0; seq < 2; seq++ {
		s := ball.State{P: ball.Vec{4, 0, 1.2}, V: ball.Vec{-6, 0, 3}}
		th := triallog.Throw{Version: triallog.Version, Source: "sim-over-ros", Seq: uint32(seq), Ball: "tennis"}
		for i := 0; i < 80; i++ { // 0.64 s at 125 Hz
			th.Obs = append(th.Obs, triallog.Obs{StampNS: int64(seq)*5e9 + int64(i)*8e6, P: s.P})
			props.Step(&s, 0.008)
		}
		require.NoError(t, w.Append(th))
	}
	require.NoError(t, w.Close())
	fl, rep, err := ReadFlights(dir, CutConfig{})
	require.NoError(t, err)
	require.Len(t, fl, 2)
	require.Equal(t, 160, rep.Rows)
	require.Equal(t, "trials.jsonl:throw1:0", fl[1].Name)
	require.InDelta(t, 0.632, fl[0].T[len(fl[0].T)-1], 1e-9)
	require.InDelta(t, -9.81, rep.Accel[2], 0.5) // gravity plus a little drag
}

// The fixed split by file: every fifth file held out, folds over the rest.
func TestFileSelect(t *testing.T) {
	var files []string
	for i := 1; i <= 12; i++ {
		files = append(files, fmt.Sprintf("f%02d.csv", i))
	}
	require.Equal(t, []string{"f05.csv", "f10.csv"}, FileSelect{Split: "heldout"}.apply(files))
	tun := FileSelect{Split: "tuning"}.apply(files)
	require.Len(t, tun, 10)
	require.NotContains(t, tun, "f05.csv")
	var all []string
	for k := 0; k < 3; k++ {
		in := FileSelect{Split: "tuning", Folds: 3, Fold: k}.apply(files)
		out := FileSelect{Split: "tuning", Folds: 3, Fold: k, Exclude: true}.apply(files)
		require.Len(t, append(append([]string{}, in...), out...), 10)
		for _, f := range in {
			require.NotContains(t, out, f)
		}
		all = append(all, in...)
	}
	require.ElementsMatch(t, tun, all)
	require.Error(t, FileSelect{Split: "test"}.Validate())
	require.Error(t, FileSelect{Folds: 5, Fold: 5}.Validate())
	require.Error(t, FileSelect{Folds: 1}.Validate())
	require.NoError(t, FileSelect{Split: "tuning", Folds: 5, Fold: 4}.Validate())
}

// A hit seen through a few missed frames (the contact itself unseen) still cuts, and the
// samples still in contact after a hit (accelerating) are trimmed off the next flight.
func TestCutAcrossGapAndTrimContact(t *testing.T) {
	props, _ := ball.ByName("table-tennis")
	const dt = 1.0 / 180
	var ts []float64
	var ps []ball.Vec
	s := ball.State{P: ball.Vec{0, 3, 1.2}, V: ball.Vec{0, -4, 1}}
	tt := 0.0
	for i := 0; i < 60; i++ { // 0.33 s toward the robot
		ts, ps = append(ts, tt), append(ps, s.P)
		props.Step(&s, dt)
		tt += dt
	}
	// 70 ms unseen, in which the ball is hit back (y velocity reversed)
	tt += 0.07
	s.P[1] -= 0.1
	s.V = ball.Vec{0, 3, 2}
	// the first four samples after the gap still in contact: pushed along with the racket
	for i := 0; i < 4; i++ {
		ts, ps = append(ts, tt), append(ps, ball.Vec{s.P[0], s.P[1] - 0.01*float64(4-i), s.P[2] - 0.006*float64(4-i)})
		tt += dt
	}
	for i := 0; i < 60; i++ {
		props.Step(&s, dt)
		ts, ps = append(ts, tt), append(ps, s.P)
		tt += dt
	}
	fl, gaps, bounces, _ := cutFlights(ts, ps, CutConfig{}.withDefaults())
	require.Equal(t, 0, gaps)             // 70 ms is under the 0.1 s gap that cuts by itself
	require.GreaterOrEqual(t, bounces, 1) // the contact samples may show as a jump of their own
	require.Len(t, fl, 2)
	require.InDelta(t, 59.5, len(fl[0].T), 0.5) // the last sample before the gap may go as the contact sample
	// the 4 contact samples are not part of the flight after the hit (cut or trimmed; the
	// jump detector's 3-sample stencil may take up to two free samples with them)
	require.GreaterOrEqual(t, fl[1].T[0], ts[64]-1e-12)
	require.LessOrEqual(t, fl[1].T[0], ts[66]+1e-12)
}

// A recording that starts in contact (the launcher or a racket still pushing the ball for
// a few frames) loses those samples: they miss the free flight that follows.
func TestTrimContactAtStart(t *testing.T) {
	props, _ := ball.ByName("table-tennis")
	const dt = 1.0 / 180
	var ts []float64
	var ps []ball.Vec
	s := ball.State{P: ball.Vec{0, 3, 1.2}, V: ball.Vec{0, -4, 1}}
	for i := 0; i < 80; i++ {
		ts, ps = append(ts, float64(i)*dt), append(ps, s.P)
		props.Step(&s, dt)
	}
	free := append([]ball.Vec(nil), ps...)
	// the first two samples lag 9 and 8 mm behind the free flight (still being pushed):
	// too little for the bounce detector's velocity jump, more than the trim's 6 mm
	ps[0][1] += 0.009
	ps[1][1] += 0.008
	fl, _, bounces, _ := cutFlights(ts, ps, CutConfig{}.withDefaults())
	require.Equal(t, 0, bounces)
	require.Len(t, fl, 1)
	require.InDelta(t, ts[2], fl[0].T[0], 1e-12)
	// a free flight keeps its first sample
	fl, _, _, _ = cutFlights(ts, free, CutConfig{}.withDefaults())
	require.InDelta(t, ts[0], fl[0].T[0], 1e-12)
}

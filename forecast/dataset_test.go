package forecast

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/sim"
)

func TestDatasetRoundTrip(t *testing.T) {
	ds, _ := smallDataset(t, 20)
	require.Equal(t, 80, ds.Len())
	var buf bytes.Buffer
	n, err := ds.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	got, err := ReadDataset(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Equal(t, ds, got) // bit-exact: float64 little-endian both ways

	_, err = ReadDataset(strings.NewReader("not a dataset"))
	require.ErrorContains(t, err, "bad magic")
	_, err = ReadDataset(bytes.NewReader(buf.Bytes()[:buf.Len()-10]))
	require.ErrorContains(t, err, "truncated")
}

// Simulated windows: the residual of a noiseless, spin-free flight from its own drag-model
// extrapolation is only the fit's error, and the observations respect the latency.
func TestSimWindows(t *testing.T) {
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	ws, err := SimWindows(sc, 30, 3, WindowConfig{PerFlight: 2})
	require.NoError(t, err)
	require.Len(t, ws, 60)
	lat := sc.Observation.LatencyMS / 1000
	for _, w := range ws {
		require.NotEmpty(t, w.History)
		require.LessOrEqual(t, w.History[len(w.History)-1].T, w.Now-lat+1e-9)
		require.GreaterOrEqual(t, w.Now, 0.06)
		require.Len(t, w.Truth, DefaultH*3)
	}
}

func TestFitRecoversExtraAcceleration(t *testing.T) {
	props, err := ball.ByName("foam")
	require.NoError(t, err)
	s := ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0.3, 3.5}, W: ball.Vec{0, 0, 100}}
	var hist []Obs
	for i := 0; i < 40; i++ {
		hist = append(hist, Obs{T: float64(i) * 0.008, P: s.P})
		props.Step(&s, 0.008)
	}
	now := hist[len(hist)-1].T
	f, ok := FitWindow(&props, FitConfig{}, hist, now)
	require.True(t, ok)
	// Magnus at the newest sample: k_l(ω×v); the constant-E model averages it over the
	// window, so 25% agreement on a 3 m/s² vector is what to expect.
	back := hist[len(hist)-1].P
	// P is the drag-only fit, which a 100 rad/s foam ball bends away from by centimetres.
	require.InDelta(t, 0, math.Abs(f.P[0]-back[0])+math.Abs(f.P[1]-back[1])+math.Abs(f.P[2]-back[2]), 0.05)
	_, kl, _ := props.Coeffs()
	var st ball.State = ball.State{V: f.V, W: ball.Vec{0, 0, 100 * math.Exp(-props.SpinDecay*now)}}
	mag := ball.Vec{kl * (st.W[1]*st.V[2] - st.W[2]*st.V[1]), kl * (st.W[2]*st.V[0] - st.W[0]*st.V[2]), 0}
	require.InDelta(t, mag[0], f.E[0], 0.25*math.Hypot(mag[0], mag[1])+0.05)
	require.InDelta(t, mag[1], f.E[1], 0.25*math.Hypot(mag[0], mag[1])+0.05)
	require.Greater(t, f.RMS, 2e-3) // the drag-only misfit is part of the evidence of spin

	// Without spin both fits are exact (noiseless): E ≈ 0, RMS ≈ 0, P the newest sample.
	s = ball.State{P: ball.Vec{3.9, 0, 0.5}, V: ball.Vec{-4.5, 0.3, 3.5}}
	hist = hist[:0]
	for i := 0; i < 40; i++ {
		hist = append(hist, Obs{T: float64(i) * 0.008, P: s.P})
		props.Step(&s, 0.008)
	}
	f, ok = FitWindow(&props, FitConfig{}, hist, now)
	require.True(t, ok)
	back = hist[len(hist)-1].P
	for k := 0; k < 3; k++ {
		require.InDelta(t, back[k], f.P[k], 1e-5) // Gauss–Newton converged to rounding of the 10 ms RK4 replay
		require.InDelta(t, 0, f.E[k], 0.02)       // m/s²: the constant-E model's own approximation of the drag nonlinearity
	}
	require.Less(t, f.RMS, 1e-5)
}

func writeFile(t *testing.T, dir, name, content string) string {
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// Recorded flights: both header conventions, a cut at a gap and at a bounce.
func TestReadFlights(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("ball_id,t_ns,x_m,y_m,z_m\n")
	// 0.5 s of a falling ball, a bounce on z = 0.76 (vz flips), 0.4 s rising and falling,
	// then a 0.3 s gap and another 0.3 s flight.
	const dt = 0.005
	t0 := int64(1669130908187064832)
	var tt float64
	z, vz := 1.3, 0.5
	row := func() {
		b.WriteString("1," + itoa(t0+int64(math.Round(tt*1e9))) + ",0.1," + ftoa(3-4*tt) + "," + ftoa(z) + "\n")
	}
	for ; tt < 0.8; tt += dt {
		row()
		vz -= 9.81 * dt
		z += vz * dt
		if z < 0.76 {
			z, vz = 0.76, -0.8*vz
		}
	}
	tt += 0.3
	for end := tt + 0.3; tt < end; tt += dt {
		row()
	}
	p := writeFile(t, dir, "a.csv", b.String())
	fl, rep, err := ReadFlights(p, CutConfig{})
	require.NoError(t, err)
	require.Len(t, fl, 3, "cut at the bounce and at the gap")
	require.Equal(t, 1, rep.Gaps)
	require.Equal(t, 1, rep.Bounces)
	// two falling pieces and the still one after the gap; 5 ms Euler steps bend the parabola a little
	require.InDelta(t, -9.81*2/3, rep.Accel[2], 0.2)
	for _, f := range fl {
		for i := 1; i < len(f.T); i++ {
			require.Less(t, f.T[i]-f.T[i-1], 0.1)
		}
	}

	writeFile(t, dir, "b.csv", "t,x,y,z\n0,0,0,1\n0.01,0.05,0,1.01\n0.02,0.1,0,1.02\n0.21,1,0,1\n0.22,1.05,0,1\n0.5,2,0,1\n")
	fl, rep, err = ReadFlights(filepath.Join(dir, "b.csv"), CutConfig{MinDuration: 0.005, NoAxisCheck: true})
	require.NoError(t, err)
	require.Len(t, fl, 2) // the last row alone is dropped (one sample after a gap)
	require.Equal(t, 0.0, fl[0].T[0])
	require.Equal(t, 1, rep.ShortPieces)

	all, _, err := ReadFlights(dir, CutConfig{MinDuration: 0.005, NoAxisCheck: true})
	require.NoError(t, err)
	require.Len(t, all, 5)
}

func TestReadFlightsErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"nohead.csv", "", "no header"},
		{"cols.csv", "time,x,y,z\n0,1,2,3\n", "lacks a time column"},
		{"pos.csv", "t,x,y\n0,1,2\n", "position column"},
		{"num.csv", "t,x,y,z\n0,1,2,3\n0.1,1,abc,3\n", `line 3: y "abc" is not a number`},
		{"empty.csv", "t,x,y,z\n", "no data rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadFlights(writeFile(t, dir, tc.name, tc.content), CutConfig{})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, tc.name)
		})
	}
	_, _, err := ReadFlights(filepath.Join(dir, "missing.csv"), CutConfig{})
	require.ErrorContains(t, err, "no such file")
	_, _, err = ReadFlights(t.TempDir(), CutConfig{})
	require.ErrorContains(t, err, "no *.csv or *.jsonl files")
}

func itoa(v int64) string   { return strconvFormatInt(v) }
func ftoa(v float64) string { return strconvFormatFloat(v) }

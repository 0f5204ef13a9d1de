package vision

import (
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/sim"
)

func tennis(t testing.TB) ball.Props {
	p, err := ball.ByName("tennis")
	require.NoError(t, err)
	return p
}

// detectorFixture is the default rig, the tennis ball, a renderer seeded
// with seed and a default detector, closed when t ends.
func detectorFixture(t *testing.T, seed uint64) (*camera.Rig, ball.Props, *Renderer, *Detector) {
	SetOpenCVThreads(1)
	rig := camera.DefaultRig()
	props := tennis(t)
	r, err := NewRenderer(RenderConfig{Seed: seed}, rig)
	require.NoError(t, err)
	d, err := NewDetector(DetectorConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return rig, props, r, d
}

// TestDetectorPartialBall: a ball whose left 40% is hidden behind a grey
// bar is found as part of a disc, centred on the circle fitted to its arc
// (within 1 px of the true centre; the enclosing circle alone was 1.7 px
// off) with about its full radius.
func TestDetectorPartialBall(t *testing.T) {
	rig, props, r, d := detectorFixture(t, 3)
	frame := gocv.NewMat()
	defer frame.Close()
	p := camera.Vec{1.2, 0.2, 1.3}
	c := rig.Cameras[0]
	require.NoError(t, r.Render(0, 0, BallState{P: p, Radius: props.Radius}, image.Rectangle{}, &frame))
	u, v := imageCentre(c, p, props.Radius)
	rad := c.K[0] * props.Radius / c.ToCamera(p)[2]
	require.Greater(t, rad, 8.0)
	bar := image.Rect(int(u-2*rad), int(v-2*rad), int(math.Round(u-0.2*rad)), int(v+2*rad))
	gocv.Rectangle(&frame, bar, color.RGBA{90, 90, 90, 0}, -1)
	cands, err := d.Detect(frame, image.Rectangle{}, nil)
	require.NoError(t, err)
	require.Len(t, cands, 1)
	cd := cands[0]
	require.True(t, cd.Partial, "fill %.2f", cd.Fill)
	require.InDelta(t, u, cd.U, 1.0)
	require.InDelta(t, v, cd.V, 1.0)
	require.InDelta(t, rad, cd.Radius, 1.0)
}

// TestDetectorCentre renders the ball at random places of the catch volume
// and checks the full-frame and ROI detections against the brute-force
// centre of its image.
func TestDetectorCentre(t *testing.T) {
	rig, props, r, d := detectorFixture(t, 11)
	frame := gocv.NewMat()
	defer frame.Close()
	var cands []Candidate
	pts := []camera.Vec{{3.8, 0, 0.6}, {2.5, -0.3, 1.2}, {1.2, 0.4, 1.4}, {0.3, -0.6, 1.0}, {0.4, 0.6, 0.7}}
	for _, p := range pts {
		for ci, c := range rig.Cameras {
			require.NoError(t, r.Render(ci, 0, BallState{P: p, Radius: props.Radius}, image.Rectangle{}, &frame))
			u, v := imageCentre(c, p, props.Radius)
			for _, roi := range []image.Rectangle{{}, image.Rect(int(u)-50, int(v)-50, int(u)+50, int(v)+50)} {
				var err error
				cands, err = d.Detect(frame, roi, cands)
				require.NoError(t, err)
				require.Len(t, cands, 1, "ball at %v in %s, roi %v", p, c.Name, roi)
				// 0.25 px: the binary centroid of a noisy, anti-aliased
				// disc of 5–20 px radius.
				require.InDelta(t, u, cands[0].U, 0.25, "u of %v in %s", p, c.Name)
				require.InDelta(t, v, cands[0].V, 0.25, "v of %v in %s", p, c.Name)
			}
		}
	}
	// Bad frames are errors, not panics.
	grey := gocv.NewMatWithSize(8, 8, gocv.MatTypeCV8U)
	defer grey.Close()
	_, err := d.Detect(grey, image.Rectangle{}, cands)
	require.ErrorContains(t, err, "CV_8UC3")
	_, err = d.Detect(gocv.NewMat(), image.Rectangle{}, cands)
	require.ErrorContains(t, err, "empty")
}

// imageCentre is the centroid of the ball's silhouette by brute force (ray
// casting a fine grid of normalized coordinates), distorted to pixels.
func imageCentre(c *camera.Camera, p camera.Vec, r float64) (float64, float64) {
	q := c.ToCamera(p)
	x0, y0 := q[0]/q[2], q[1]/q[2]
	h := 2.5 * r / q[2] * (1 + x0*x0 + y0*y0)
	const n = 200
	var sx, sy, cnt float64
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			x := x0 - h + 2*h*(float64(i)+0.5)/n
			y := y0 - h + 2*h*(float64(j)+0.5)/n
			cd := q[0]*x + q[1]*y + q[2]
			if q[0]*q[0]+q[1]*q[1]+q[2]*q[2]-cd*cd/(x*x+y*y+1) <= r*r {
				sx += x
				sy += y
				cnt++
			}
		}
	}
	return c.Distort(sx/cnt, sy/cnt)
}

// trackThrows runs camera fidelity on n nominal throws (seed 5) and returns
// the 3D errors of the found positions and the number of frames.
func trackThrows(t *testing.T, n int, rc RenderConfig, tc TrackerConfig) (errs []float64, frames, found, far int) {
	SetOpenCVThreads(1)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	s, err := NewSimCamera(camera.DefaultRig(), rc, tc, sc.BallProps())
	require.NoError(t, err)
	defer s.Close()
	for i := 0; i < n; i++ {
		th := sc.Sample(sim.TrialRand(5, i))
		s.StartThrow(uint64(i), th.Ball.Radius)
		b := th.Init
		var truth []camera.Vec
		score := func(p, q camera.Vec) {
			found++
			if e := dist3(p, q); e > 0.05 {
				far++
			} else {
				errs = append(errs, e)
			}
		}
		for k := 0; b.P[0] > 0; k++ {
			frames++
			truth = append(truth, b.P)
			p, ok, err := s.Observe(float64(k)/125, b.P)
			require.NoError(t, err)
			if ok {
				score(p, b.P)
			}
			// The first frames of a flight, accepted once confirmed.
			res := s.LastResult()
			for j := 0; j < res.Late; j++ {
				m := int(math.Round(res.LateT[j] * 125))
				require.True(t, m >= k-2 && m < k, "frame %d: late point of frame %d", k, m)
				score(res.LateP[j], truth[m])
			}
			th.Ball.Propagate(&b, 1.0/125, 0)
		}
	}
	slices.Sort(errs)
	return errs, frames, found, far
}

// TestTrackerNominal: rendered frames, ROI tracking, stereo triangulation
// and the estimator on two nominal throws, without and with distractors.
func TestTrackerNominal(t *testing.T) {
	for _, distract := range []bool{false, true} {
		errs, frames, found, far := trackThrows(t, 2, RenderConfig{Seed: 3, Distractors: distract}, TrackerConfig{})
		// A track starts from three frames that moved like a thrown ball,
		// and the first two are accepted when the third confirms them:
		// every frame of each flight is found.
		require.Equal(t, frames, found, "every frame of a nominal flight is found (distractors %v)", distract)
		require.Zero(t, far, "no position more than 5 cm off")
		// The bounds (5 mm median, 15 mm p95) with margin to spare on
		// lossless frames: measured 0.6 mm / 2 mm.
		require.Less(t, errs[len(errs)/2], 0.002)
		require.Less(t, errs[len(errs)*95/100], 0.005)
	}
}

// TestTrackerBgSub: background subtraction on full frames (the ball is the
// only moving thing).
func TestTrackerBgSub(t *testing.T) {
	SetOpenCVThreads(1)
	rig := camera.DefaultRig()
	props := tennis(t)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	th := sc.Sample(sim.TrialRand(5, 0))
	var balls []BallState
	for k := 0; k < 10; k++ {
		balls = append(balls, BallState{Hidden: true})
	}
	b := th.Init
	for b.P[0] > 0 {
		balls = append(balls, BallState{P: b.P, V: b.V, Radius: props.Radius})
		props.Propagate(&b, 1.0/125, 0)
	}
	r, err := NewRenderer(RenderConfig{Seed: 9}, rig)
	require.NoError(t, err)
	tr, err := NewTracker(TrackerConfig{Detector: DetectorConfig{Mode: ModeBgSub}}, rig, props)
	require.NoError(t, err)
	defer tr.Close()
	srcs := []Source{&RenderSource{R: r, Cam: 0, Balls: balls, FPS: 125}, &RenderSource{R: r, Cam: 1, Balls: balls, FPS: 125}}
	frames := Frames{gocv.NewMat(), gocv.NewMat()}
	var res Result
	found, inFlight := 0, 0
	var errs []float64
	for k := range balls {
		var ts float64
		for i, s := range srcs {
			ts, err = s.Read(&frames[i])
			require.NoError(t, err)
		}
		require.NoError(t, tr.Step(ts, frames, &res))
		if balls[k].Hidden {
			require.False(t, res.Found, "frame %d has no ball", k)
			continue
		}
		inFlight++
		if res.Found {
			found++
			p := balls[k].P
			errs = append(errs, math.Sqrt((res.P[0]-p[0])*(res.P[0]-p[0])+(res.P[1]-p[1])*(res.P[1]-p[1])+(res.P[2]-p[2])*(res.P[2]-p[2])))
		}
	}
	_, err = srcs[0].Read(&frames[0])
	require.ErrorIs(t, err, io.EOF)
	// Background subtraction is the weaker mode: where the ball crosses
	// background of similar grey its blob breaks up and frames go unmatched
	// (measured 96 of 115 here); colour mode finds all. Found positions are
	// still accurate (5 mm median).
	require.GreaterOrEqual(t, float64(found), 0.8*float64(inFlight))
	slices.Sort(errs)
	require.Less(t, errs[len(errs)/2], 0.005)
}

// TestSources: video files written by OpenCV and image directories read
// back with timestamps; bad inputs give errors.
func TestSources(t *testing.T) {
	dir := t.TempDir()
	const w, h, n = 160, 128, 5
	path := filepath.Join(dir, "v.avi")
	vw, err := gocv.VideoWriterFile(path, "MJPG", 50, w, h, true)
	require.NoError(t, err)
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	defer m.Close()
	imgDir := filepath.Join(dir, "imgs")
	require.NoError(t, os.Mkdir(imgDir, 0o755))
	for i := 0; i < n; i++ {
		m.SetTo(gocv.NewScalar(float64(40*i), 100, 200, 0))
		require.NoError(t, vw.Write(m))
		require.True(t, gocv.IMWrite(filepath.Join(imgDir, "f"+string(rune('0'+i))+".png"), m))
	}
	require.NoError(t, vw.Close())

	for _, fps := range []float64{0, 100} {
		vs, err := OpenVideo(path, fps)
		require.NoError(t, err)
		require.Equal(t, image.Pt(w, h), vs.Size())
		want := fps
		if fps == 0 {
			want = 50 // the file's own rate
		}
		dst := gocv.NewMat()
		for i := 0; i < n; i++ {
			ts, err := vs.Read(&dst)
			require.NoError(t, err)
			require.InDelta(t, float64(i)/want, ts, 1e-12)
			require.Equal(t, h, dst.Rows())
		}
		_, err = vs.Read(&dst)
		require.ErrorIs(t, err, io.EOF)
		dst.Close()
		vs.Close()
	}

	ds, err := OpenImageDir(imgDir, 0)
	require.NoError(t, err)
	dst := gocv.NewMat()
	defer dst.Close()
	for i := 0; i < n; i++ {
		ts, err := ds.Read(&dst)
		require.NoError(t, err)
		require.InDelta(t, float64(i)/DefaultFPS, ts, 1e-12)
		// PNG is lossless: the blue channel is the written 40·i.
		require.Equal(t, uint8(40*i), dst.GetVecbAt(3, 3)[0])
	}
	_, err = ds.Read(&dst)
	require.ErrorIs(t, err, io.EOF)

	_, err = OpenVideo(filepath.Join(dir, "missing.avi"), 0)
	require.Error(t, err)
	junk := filepath.Join(dir, "junk.avi")
	require.NoError(t, os.WriteFile(junk, []byte("not a video at all"), 0o644))
	if vs, err := OpenVideo(junk, 0); err == nil {
		_, err = vs.Read(&dst)
		require.Error(t, err, "a junk file either fails to open or yields no frame")
		vs.Close()
	}
	_, err = OpenImageDir(dir+"/nope", 0)
	require.Error(t, err)
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, err = OpenImageDir(empty, 0)
	require.ErrorContains(t, err, "no .png")
}

// TestTrackerFrameSizeMismatch: frames that do not match the calibration
// are an error.
func TestTrackerFrameSizeMismatch(t *testing.T) {
	tr, err := NewTracker(TrackerConfig{}, camera.DefaultRig(), tennis(t))
	require.NoError(t, err)
	defer tr.Close()
	small := Frames{gocv.NewMatWithSize(100, 100, gocv.MatTypeCV8UC3), gocv.NewMatWithSize(100, 100, gocv.MatTypeCV8UC3)}
	var res Result
	require.ErrorContains(t, tr.Step(0, small, &res), "calibration says 1280×1024")
	_, err = NewTracker(TrackerConfig{}, &camera.Rig{Cameras: camera.DefaultRig().Cameras[:1]}, tennis(t))
	require.ErrorContains(t, err, "at least 2 cameras")
	_, err = NewTracker(TrackerConfig{Detector: DetectorConfig{Mode: "magic"}}, camera.DefaultRig(), tennis(t))
	require.ErrorContains(t, err, "mode")
}

package vision

import (
	"image"
	"runtime"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/internal/cputime"
	"github.com/agilecatch/catch/perception/camera"
)

// benchPair renders a 1280×1024 stereo pair of the default rig with the ball
// mid-flight (3 m from the cameras) and returns a tracker for it.
func benchPair(b testing.TB, cfg TrackerConfig, p camera.Vec) (*Tracker, Frames, ball.Estimate) {
	SetOpenCVThreads(1) // one core, as docs/architecture.md §8 measures
	rig := camera.DefaultRig()
	props, err := ball.ByName("tennis")
	require.NoError(b, err)
	r, err := NewRenderer(RenderConfig{Seed: 3}, rig)
	require.NoError(b, err)
	frames := Frames{gocv.NewMat(), gocv.NewMat()}
	for i := range frames {
		require.NoError(b, r.Render(i, 0, BallState{P: p, V: camera.Vec{-4.5, 0, 1}, Radius: props.Radius}, image.Rectangle{}, &frames[i]))
	}
	tr, err := NewTracker(cfg, rig, props)
	require.NoError(b, err)
	// A prediction 5 mm off the truth with a 5 mm σ, as while tracking.
	pred := ball.Estimate{Valid: true, State: ball.State{P: camera.Vec{p[0] + 0.005, p[1], p[2]}}}
	for k := 0; k < 3; k++ {
		pred.Cov[k*7] = 0.005 * 0.005
	}
	return tr, frames, pred
}

// BenchmarkStereoFullFrame: full-frame detection in both cameras plus
// matching/triangulation, per stereo pair.
func BenchmarkStereoFullFrame(b *testing.B) {
	tr, frames, _ := benchPair(b, TrackerConfig{}, camera.Vec{2.0, 0.1, 1.2})
	var res Result
	var none ball.Estimate
	require.NoError(b, tr.detect(frames, false))
	tr.match(0, &res, &none)
	require.Len(b, tr.hyps, 1) // the ball; nothing chosen before it moved
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		cpu.op()
		_ = tr.detect(frames, false)
		tr.match(0, &res, &none)
	}
	cpu.stop()
}

// BenchmarkStereoROI: ROI detection around the predicted ball image in both
// cameras plus matching/triangulation, per stereo pair.
func BenchmarkStereoROI(b *testing.B) {
	tr, frames, pred := benchPair(b, TrackerConfig{}, camera.Vec{2.0, 0.1, 1.2})
	var res Result
	require.True(b, tr.planROIs(&pred))
	require.NoError(b, tr.detect(frames, true))
	require.True(b, tr.match(0, &res, &pred))
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		cpu.op()
		tr.planROIs(&pred)
		_ = tr.detect(frames, true)
		tr.match(0, &res, &pred)
	}
	cpu.stop()
}

// BenchmarkStereoFullFrameClutter: full-frame search in both cameras of a
// stereo pair over the most ball-coloured training photograph (fruits.jpg,
// opencv-doc) with the lab clutter (vision.RenderConfig.Clutter), after the
// background model has learned its warm-up frames: the worst cluttered
// scene the detector was tuned on.
func BenchmarkStereoFullFrameClutter(b *testing.B) {
	SetOpenCVThreads(1)
	rig := camera.DefaultRig()
	props, err := ball.ByName("tennis")
	require.NoError(b, err)
	r, err := NewRenderer(RenderConfig{Seed: 3, Background: PhotoDir + "/fruits.jpg", Clutter: true}, rig)
	require.NoError(b, err)
	tr, err := NewTracker(TrackerConfig{}, rig, props)
	require.NoError(b, err)
	defer tr.Close()
	frames := Frames{gocv.NewMat(), gocv.NewMat()}
	p := camera.Vec{2.0, 0.1, 1.2}
	for k := 0; k <= bgWarmup; k++ {
		bs := BallState{Hidden: true}
		if k == bgWarmup {
			bs = BallState{P: p, V: camera.Vec{-4.5, 0, 1}, Radius: props.Radius}
		}
		for i := range frames {
			require.NoError(b, r.Render(i, float64(k)/125, bs, image.Rectangle{}, &frames[i]))
		}
		require.NoError(b, tr.detect(frames, false))
	}
	var res Result
	var none ball.Estimate
	tr.match(0, &res, &none)
	require.Len(b, tr.hyps, 1, "the ball, and none of the clutter")
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		cpu.op()
		_ = tr.detect(frames, false)
		tr.match(0, &res, &none)
	}
	cpu.stop()
}

// cpuTimer reports the benchmark's CPU time per op on its own thread
// (cpu-ns/op) and the 99th percentile of one op's thread CPU time
// (p99-cpu-ns/op, the budget docs/architecture.md §8 sets) beside the wall
// time: on a shared machine the wall time also counts the time other
// processes held the core. Call op at the start of every iteration.
type cpuTimer struct {
	b     *testing.B
	start int64
	last  int64
	ops   []int64
}

func startCPU(b *testing.B) *cpuTimer {
	runtime.LockOSThread()
	c := &cpuTimer{b: b, ops: make([]int64, 0, b.N)}
	b.ReportAllocs()
	b.ResetTimer()
	c.start = cputime.Thread()
	return c
}

// op marks the start of an iteration, closing the previous one.
func (c *cpuTimer) op() {
	now := cputime.Thread()
	if len(c.ops) < cap(c.ops) && c.last != 0 {
		c.ops = append(c.ops, now-c.last)
	}
	c.last = now
}

func (c *cpuTimer) stop() {
	end := cputime.Thread()
	c.b.StopTimer()
	runtime.UnlockOSThread()
	if c.last != 0 {
		c.ops = append(c.ops, end-c.last)
	}
	c.b.ReportMetric(float64(end-c.start)/float64(c.b.N), "cpu-ns/op")
	sort.Slice(c.ops, func(i, j int) bool { return c.ops[i] < c.ops[j] })
	c.b.ReportMetric(float64(c.ops[(len(c.ops)-1)*99/100]), "p99-cpu-ns/op")
}

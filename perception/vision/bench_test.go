package vision

import (
	"image"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
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
		_ = tr.detect(frames, false)
		tr.match(0, &res, &none)
	}
	cpu.stop()
}

// cpuTimer reports the benchmark's CPU time per op on its own thread
// (cpu-ns/op) beside the wall time: on a shared machine the wall time also
// counts the time other processes held the core.
type cpuTimer struct {
	b     *testing.B
	start time.Duration
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	runtime.LockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuTimer{b: b, start: threadCPU()}
}

func (c *cpuTimer) stop() {
	d := threadCPU() - c.start
	c.b.StopTimer()
	runtime.UnlockOSThread()
	c.b.ReportMetric(float64(d.Nanoseconds())/float64(c.b.N), "cpu-ns/op")
}

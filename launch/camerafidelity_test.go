package launch_test

import (
	"context"
	"math"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// TestCameraFidelityPipeline: simarm in camera fidelity publishes rendered
// frames (sensor_msgs/Image, half size), the perception node detects and
// triangulates them with the matching scaled camera model, and the
// observations on ball/observation lie within a few cm of the thrown ball's
// true flight at their stamps; a hold controller acknowledges the re-arms.
func TestCameraFidelityPipeline(t *testing.T) {
	uri := sharedMaster(t)
	r := newRig(t, uri, nil) // hold controller in namespace /testcamerafidelitypipeline
	var cfg launch.Config
	cfg.Node.ROS.MasterURI, cfg.Node.ROS.Namespace, cfg.Node.ROS.RetryS = uri, r.ns, 0.2
	rob, err := robot.Default()
	require.NoError(t, err)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	props, err := ball.ByName("tennis")
	require.NoError(t, err)

	camRig, err := cfg.Node.Camera.Rig(nil)
	require.NoError(t, err)
	require.Equal(t, 640, camRig.Cameras[0].Width)
	pn, err := launch.NewPerceptionNode(&cfg, camRig, props, "perception", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	pdone := make(chan error, 1)
	go func() { pdone <- pn.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-pdone) })
	require.NoError(t, pn.IO.Conn().WaitConnected(ctxTimeout(t, 20*time.Second)))

	// Observer: releases (catch/rearm stamps) and observations.
	u, _ := url.Parse(uri)
	tn, err := goroslib.NewNode(goroslib.NodeConf{Name: "observer", Namespace: r.ns, MasterAddress: u.Host, Host: "127.0.0.1", LogDestinations: goroslib.LogDestinationCallback})
	require.NoError(t, err)
	t.Cleanup(tn.Close)
	type obs struct {
		stamp time.Time
		p     ball.Vec
	}
	var mu sync.Mutex
	var got []obs
	releases := map[uint32]time.Time{}
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: tn, Topic: "ball/observation", Callback: func(m *geometry_msgs.PointStamped) {
		mu.Lock()
		got = append(got, obs{m.Header.Stamp, ball.Vec{m.Point.X, m.Point.Y, m.Point.Z}})
		mu.Unlock()
	}})
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	sub2, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: tn, Topic: "catch/rearm", Callback: func(m *std_msgs.Header) {
		mu.Lock()
		releases[m.Seq] = m.Stamp // the last announcement of a throw is its release
		mu.Unlock()
	}})
	require.NoError(t, err)
	t.Cleanup(sub2.Close)
	time.Sleep(300 * time.Millisecond)

	const seed, trials = 3, 2
	sa, err := launch.NewSimArm(launch.SimArmOptions{Config: &cfg, Robot: rob, Scenario: sc, Seed: seed, Trials: trials, PauseS: 0.5, Fidelity: "camera"})
	require.NoError(t, err)
	require.NoError(t, sa.Run(ctxTimeout(t, 60*time.Second)))
	time.Sleep(500 * time.Millisecond) // the last frames through perception

	steps, found, dropped := pn.Stats()
	t.Logf("perception: %d stereo steps, %d with the ball, %d frames dropped unmatched", steps, found, dropped)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, releases, trials)
	var errs []float64
	for _, o := range got {
		// Which throw: the latest release before the stamp.
		best, bi := time.Time{}, -1
		for i, rel := range releases {
			if !rel.After(o.stamp) && rel.After(best) {
				best, bi = rel, int(i)
			}
		}
		require.GreaterOrEqual(t, bi, 0, "observation at %v before any release", o.stamp)
		th := sc.Sample(sim.TrialRand(seed, bi))
		b := th.Init
		tk := o.stamp.Sub(best).Seconds()
		n := int(math.Round(tk / sim.PhysicsStep))
		for k := 0; k < n; k++ {
			th.Ball.Step(&b, sim.PhysicsStep)
		}
		d := math.Sqrt((o.p[0]-b.P[0])*(o.p[0]-b.P[0]) + (o.p[1]-b.P[1])*(o.p[1]-b.P[1]) + (o.p[2]-b.P[2])*(o.p[2]-b.P[2]))
		errs = append(errs, d)
	}
	require.GreaterOrEqual(t, len(errs), 20, "observations from the camera pipeline")
	var worst, sum float64
	bad := 0
	for _, d := range errs {
		sum += d
		worst = math.Max(worst, d)
		if d > 0.03 {
			bad++
		}
	}
	t.Logf("%d observations: mean error %.1f mm, max %.1f mm, %d beyond 3 cm", len(errs), 1000*sum/float64(len(errs)), 1000*worst, bad)
	require.Less(t, sum/float64(len(errs)), 0.02, "mean error")
	require.LessOrEqual(t, bad, len(errs)/20, "observations beyond 3 cm (the pocket stops the ball: last frames differ)")
}

package launch_test

import (
	"context"
	"image"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/hardware/ros"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/perception/vision"
)

// TestPerceptionNode: rendered stereo frames of a flying ball go in as
// sensor_msgs/Image; triangulated observations come out within 2 cm of the
// truth, stamped with the frames' time.
func TestPerceptionNode(t *testing.T) {
	uri := sharedMaster(t)
	ns := "/t_perception"
	var cfg launch.Config
	cfg.Node.ROS.MasterURI, cfg.Node.ROS.Namespace, cfg.Node.ROS.RetryS = uri, ns, 0.2
	rig := camera.DefaultRig()
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	n, err := launch.NewPerceptionNode(&cfg, rig, props, "perception", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.NoError(t, n.IO.Conn().WaitConnected(ctxTimeout(t, 20*time.Second)))

	u, _ := url.Parse(uri)
	tn, err := goroslib.NewNode(goroslib.NodeConf{Name: "fake_cameras", Namespace: ns, MasterAddress: u.Host, Host: "127.0.0.1", LogDestinations: goroslib.LogDestinationCallback})
	require.NoError(t, err)
	t.Cleanup(tn.Close)
	var pubs []*goroslib.Publisher
	for _, c := range rig.Cameras {
		p, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: tn, Topic: ros.ImageTopic(c.Name), Msg: &sensor_msgs.Image{}})
		require.NoError(t, err)
		t.Cleanup(p.Close)
		pubs = append(pubs, p)
	}
	type obs struct {
		stamp time.Time
		p     [3]float64
	}
	var mu sync.Mutex
	var got []obs
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: tn, Topic: "ball/observation", Callback: func(m *geometry_msgs.PointStamped) {
		mu.Lock()
		got = append(got, obs{m.Header.Stamp, [3]float64{m.Point.X, m.Point.Y, m.Point.Z}})
		mu.Unlock()
	}})
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	// Wait for the image subscriptions to connect.
	require.Eventually(t, func() bool {
		nodes, err := tn.MasterGetTopics()
		if err != nil {
			return false
		}
		for _, c := range rig.Cameras {
			if tp, ok := nodes[ns+"/"+ros.ImageTopic(c.Name)]; !ok || len(tp.Subscribers) == 0 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // TCPROS handshakes

	r, err := vision.NewRenderer(vision.RenderConfig{Seed: 1}, rig)
	require.NoError(t, err)
	var mat gocv.Mat = gocv.NewMat()
	defer mat.Close()
	start := time.Unix(1_700_000_000, 0)
	truth := map[int64][3]float64{}
	st := ball.State{P: ball.Vec{3.9, 0.05, 0.5}, V: ball.Vec{-4.5, 0.1, 3.8}}
	const frames = 40
	for k := 0; k < frames; k++ {
		tk := float64(k) * 0.008
		b := st
		props.Propagate(&b, tk, 0)
		stamp := start.Add(time.Duration(tk * float64(time.Second)))
		truth[stamp.UnixNano()] = b.P
		for ci := range rig.Cameras {
			require.NoError(t, r.Render(ci, tk, vision.BallState{P: b.P, V: b.V, Radius: props.Radius}, image.Rectangle{}, &mat))
			img := ros.Image{Stamp: stamp, Width: mat.Cols(), Height: mat.Rows(), Encoding: "bgr8", Step: mat.Cols() * 3, Data: append([]byte(nil), mat.ToBytes()...)}
			pubs[ci].Write(ros.ImageMsg(rig.Cameras[ci].Name, img))
		}
		time.Sleep(20 * time.Millisecond) // keep up with a loaded machine
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= frames/2 }, 30*time.Second, 50*time.Millisecond)

	// Malformed frames (an unknown encoding; fewer bytes than the size says)
	// are skipped, counted and reported as WARN on /diagnostics, and the node
	// keeps running (the old node died on the first and said nothing of the
	// second).
	var dmu sync.Mutex
	var diag *diagnostic_msgs.DiagnosticStatus
	reports := 0
	dsub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: tn, Topic: "diagnostics", Callback: func(m *diagnostic_msgs.DiagnosticArray) {
		for i := range m.Status {
			if m.Status[i].Name != "catch: perception" {
				continue
			}
			dmu.Lock()
			reports++
			if m.Status[i].Level == 1 {
				diag = &m.Status[i]
			}
			dmu.Unlock()
		}
	}})
	require.NoError(t, err)
	t.Cleanup(dsub.Close)
	require.Eventually(t, func() bool { dmu.Lock(); defer dmu.Unlock(); return reports > 0 }, 10*time.Second, 50*time.Millisecond, "no report from the perception node on /diagnostics")
	bad := start.Add(time.Second)
	for ci := range rig.Cameras {
		pubs[ci].Write(ros.ImageMsg(rig.Cameras[ci].Name, ros.Image{Stamp: bad, Width: 4, Height: 2, Encoding: "rgba16", Step: 32, Data: make([]byte, 64)}))
		pubs[ci].Write(ros.ImageMsg(rig.Cameras[ci].Name, ros.Image{Stamp: bad.Add(time.Millisecond * 8), Width: 640, Height: 480, Encoding: "bgr8", Step: 1920, Data: make([]byte, 100)}))
	}
	require.Eventually(t, func() bool { dmu.Lock(); defer dmu.Unlock(); return diag != nil }, 10*time.Second, 50*time.Millisecond, "no WARN from the perception node on /diagnostics")
	dmu.Lock()
	vals := map[string]string{}
	for _, kv := range diag.Values {
		vals[kv.Key] = kv.Value
	}
	dmu.Unlock()
	require.Equal(t, "1", vals["malformed"], "one stereo set with an unknown encoding")
	require.Equal(t, "2", vals["bad_size"], "one short image per camera")
	require.Equal(t, 1, n.Malformed())
	select {
	case err := <-done:
		t.Fatalf("the node stopped on a malformed image: %v", err)
	default:
	}

	mu.Lock()
	defer mu.Unlock()
	for _, o := range got {
		p, ok := truth[o.stamp.UnixNano()]
		require.True(t, ok, "observation stamped %v is no frame's stamp", o.stamp)
		d := 0.0
		for k := 0; k < 3; k++ {
			d += (o.p[k] - p[k]) * (o.p[k] - p[k])
		}
		require.Less(t, d, 0.02*0.02, "observation %v vs truth %v", o.p, p) // 2 cm: triangulation at 3–4 m is ~mm
	}
}

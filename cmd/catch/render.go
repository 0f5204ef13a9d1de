package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/perception/vision"
	"github.com/agilecatch/catch/sim"
)

// renderGapFrames is the number of empty frames before each throw: 0.128 s
// at 125 Hz, longer than the estimator's default max gap (0.1 s), so a
// tracker starts each throw as a new flight.
const renderGapFrames = 16

// renderSummary is what `catch render` prints.
type renderSummary struct {
	Scenario    string   `json:"scenario"`
	Throws      int      `json:"throws"`
	Seed        uint64   `json:"seed"`
	Frames      int      `json:"frames"`
	BallFrames  int      `json:"ball_frames"`
	FPS         float64  `json:"fps"`
	Width       int      `json:"width"`
	Height      int      `json:"height"`
	Files       []string `json:"files"`
	Distractors bool     `json:"distractors"`
	WallS       float64  `json:"wall_s"`
}

func init() {
	var (
		scenario, out, rigPath, background, codec string
		throws                                    int
		seed                                      uint64
		fps, exposure, noise                      float64
		distractors, clutter                      bool
	)
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render camera videos of simulated throws, with ground truth",
		Long: `Renders --throws throws of a scenario as seen by every camera of a rig
(the default stereo pair, or --cameras RIG.yaml) and writes DIR/cameras.yaml
with one ROS camera_info file per camera, one video per camera (DIR/cam0.avi,
...; Motion-JPEG) and DIR/truth.csv (t,x,y,z per frame, s and m; x,y,z empty
in the frames between throws, which show no ball). Each throw is preceded by
16 empty frames. The ball is ray-cast as a shaded sphere through the lens
model over a generated background (or --background FILE) with sensor noise,
optional motion blur (--exposure) and distractor objects (--distractors).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			sc, err := sim.Lookup(scenario)
			if err != nil {
				return err
			}
			if throws <= 0 || throws > 10000 {
				return fmt.Errorf("--throws %d: want 1..10000", throws)
			}
			if out == "" {
				return fmt.Errorf("--out: missing (the output directory)")
			}
			if !(fps > 0 && fps <= 2000) {
				return fmt.Errorf("--fps %v: want (0, 2000]", fps)
			}
			if len(codec) != 4 {
				return fmt.Errorf("--codec %q: want a FourCC such as MJPG", codec)
			}
			rig := camera.DefaultRig()
			if rigPath != "" {
				if rig, err = camera.LoadRig(rigPath); err != nil {
					return err
				}
			}
			rc := vision.RenderConfig{Seed: seed, ExposureS: exposure, Background: background, Distractors: distractors, Clutter: clutter, NoiseStd: noise}
			if noise == 0 {
				rc.NoiseStd = -1
			}
			if err := rc.Validate(); err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if err := rig.Save(filepath.Join(out, "cameras.yaml")); err != nil {
				return failed(err)
			}
			balls := renderTimeline(sc, throws, seed, fps)
			if err := writeTruth(filepath.Join(out, "truth.csv"), balls, fps); err != nil {
				return failed(err)
			}
			files := []string{filepath.Join(out, "cameras.yaml"), filepath.Join(out, "truth.csv")}
			vision.SetOpenCVThreads(1)
			errs := make([]error, len(rig.Cameras))
			var wg sync.WaitGroup
			for ci, c := range rig.Cameras {
				path := filepath.Join(out, c.Name+".avi")
				files = append(files, path)
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[ci] = renderVideo(rig, rc, ci, balls, fps, path, codec)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return failed(err)
				}
			}
			nb := 0
			for _, b := range balls {
				if !b.Hidden {
					nb++
				}
			}
			c0 := rig.Cameras[0]
			sum := renderSummary{Scenario: sc.Name, Throws: throws, Seed: seed, Frames: len(balls), BallFrames: nb, FPS: fps,
				Width: c0.Width, Height: c0.Height, Files: files, Distractors: distractors, WallS: time.Since(start).Seconds()}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(sum)
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "nominal", "scenario name ("+joinNames(sim.Names())+") or a scenario .yaml file")
	countFlag(f, &throws, "throws", 5, 1, 1000, "number of throws")
	f.Uint64Var(&seed, "seed", 1, "random seed (throws, background, noise)")
	f.StringVar(&out, "out", "", "output directory (created if missing)")
	f.StringVar(&rigPath, "cameras", "", "rig file (default: the built-in stereo pair, 1280×1024)")
	f.Float64Var(&fps, "fps", vision.DefaultFPS, "frame rate, Hz")
	f.Float64Var(&exposure, "exposure", 0, "exposure time for motion blur, s (0: none)")
	f.Float64Var(&noise, "noise", 2, "sensor noise σ, 8-bit counts (0: none)")
	f.StringVar(&background, "background", "", "background image file (default: a generated scene per camera)")
	f.BoolVar(&clutter, "clutter", false, "add lab clutter (balls on the floor, a rolling ball, yellow shirt and logo, cone, occluding pole, drifting light)")
	f.BoolVar(&distractors, "distractors", false, "add distractor objects (ball-coloured strip and big disc, orange and grey balls, a one-camera ball twin)")
	f.StringVar(&codec, "codec", "MJPG", "video FourCC (MJPG is built into OpenCV; others need its FFmpeg backend)")
	root.AddCommand(cmd)
}

// renderTimeline samples the throws (throw i from sim.TrialRand(seed, i),
// as `catch sim` does) and lays them out frame by frame: renderGapFrames
// empty frames, then the flight from release until the ball is 0.3 m behind
// the rail plane, hits the floor or 1.5 s passed.
func renderTimeline(sc *sim.Scenario, throws int, seed uint64, fps float64) []vision.BallState {
	var balls []vision.BallState
	dt := 1 / fps
	for i := 0; i < throws; i++ {
		th := sc.Sample(sim.TrialRand(seed, i))
		for k := 0; k < renderGapFrames; k++ {
			balls = append(balls, vision.BallState{Hidden: true})
		}
		b := th.Init
		for k := 0; float64(k)*dt < 1.5 && b.P[0] > -0.3 && b.P[2] > 0; k++ {
			balls = append(balls, vision.BallState{P: b.P, V: b.V, Radius: th.Ball.Radius})
			th.Ball.Propagate(&b, dt, 0)
		}
	}
	return balls
}

func writeTruth(path string, balls []vision.BallState, fps float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := []byte("t,x,y,z\n")
	for i, b := range balls {
		buf = strconv.AppendFloat(buf, float64(i)/fps, 'f', 6, 64)
		if b.Hidden {
			buf = append(buf, ",,,\n"...)
			continue
		}
		for _, v := range b.P {
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, v, 'f', 6, 64)
		}
		buf = append(buf, '\n')
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func renderVideo(rig *camera.Rig, rc vision.RenderConfig, ci int, balls []vision.BallState, fps float64, path, codec string) error {
	r, err := vision.NewRenderer(rc, rig)
	if err != nil {
		return err
	}
	r.Reseed(uint64(ci) + 1)
	c := rig.Cameras[ci]
	w, err := gocv.VideoWriterFile(path, codec, fps, c.Width, c.Height, true)
	if err != nil {
		return fmt.Errorf("video %s: %w", path, err)
	}
	defer w.Close()
	if !w.IsOpened() {
		return fmt.Errorf("video %s: OpenCV cannot write codec %s", path, codec)
	}
	src := &vision.RenderSource{R: r, Cam: ci, Balls: balls, FPS: fps}
	m := gocv.NewMat()
	defer m.Close()
	for range balls {
		if _, err := src.Read(&m); err != nil {
			return err
		}
		if err := w.Write(m); err != nil {
			return fmt.Errorf("video %s: %w", path, err)
		}
	}
	return nil
}

// cameraObserver is camera fidelity for `catch sim`: it adapts
// vision.SimCamera (rendered frames around the ball, the real detector and
// triangulation) to sim.Observer.
type cameraObserver struct {
	sc      *vision.SimCamera
	err     error
	props   ball.Props
	photos  []string // backgrounds to draw each throw's from (none: the generated scene)
	clutter bool
	cur     int // index into photos of sc's background
}

// newCameraObserver renders over the generated scene, or with photos over
// one of them per throw (chosen from the throw itself), with the lab
// clutter when asked.
func newCameraObserver(props ball.Props, photos []string, clutter bool) (sim.Observer, error) {
	vision.SetOpenCVThreads(1) // trials already run one per core
	o := &cameraObserver{props: props, photos: photos, clutter: clutter, cur: -1}
	if err := o.use(0); err != nil {
		return nil, err
	}
	return o, nil
}

// use switches the renderer to photo i (the tracker starts afresh, its
// background model included).
func (o *cameraObserver) use(i int) error {
	if i == o.cur && o.sc != nil {
		return nil
	}
	rc := vision.RenderConfig{Seed: 1, Clutter: o.clutter}
	if len(o.photos) > 0 {
		rc.Background = o.photos[i]
	}
	s, err := vision.NewSimCamera(camera.DefaultRig(), rc, vision.TrackerConfig{}, o.props)
	if err != nil {
		return err
	}
	if o.sc != nil {
		o.sc.Close()
	}
	o.sc, o.cur = s, i
	return nil
}

// StartThrow reseeds the sensor noise from the throw itself (not from rng,
// so that the trial's random stream, hence camera phase and everything else,
// matches state fidelity for the same seed).
func (o *cameraObserver) StartThrow(th *sim.Throw, _ *rand.Rand) error {
	if o.err != nil {
		return o.err
	}
	seed := math.Float64bits(th.Init.V[0]) ^ math.Float64bits(th.Init.V[1])<<1 ^ math.Float64bits(th.Init.V[2])<<2
	if len(o.photos) > 1 {
		if err := o.use(int((seed >> 11) % uint64(len(o.photos)))); err != nil {
			o.err = err
			return err
		}
	}
	o.sc.StartThrow(seed, th.Ball.Radius)
	return nil
}

// Close frees the renderer's and tracker's OpenCV images and reports an
// error held from the last throw.
func (o *cameraObserver) Close() error {
	if err := o.sc.Close(); err != nil {
		return err
	}
	return o.err
}

// Late hands the simulator the first frames' positions that the tracker
// accepted once it confirmed the flight at the last frame
// (vision.Result.Late), as the tracker hands them to its own estimator.
func (o *cameraObserver) Late(dst []sim.TimedPoint) []sim.TimedPoint {
	res := o.sc.LastResult()
	for k := 0; k < res.Late; k++ {
		dst = append(dst, sim.TimedPoint{T: res.LateT[k], P: res.LateP[k]})
	}
	return dst
}

func (o *cameraObserver) Observe(t float64, truth ball.Vec, _ *rand.Rand) (ball.Vec, bool) {
	p, ok, err := o.sc.Observe(t, truth)
	if err != nil && o.err == nil {
		o.err = fmt.Errorf("camera fidelity at t = %.3f s: %w", t, err)
	}
	return p, ok
}

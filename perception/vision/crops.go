package vision

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/perception/ballnet"
	"github.com/agilecatch/catch/perception/camera"
)

// CropSetConfig configures TrainingCrops. The zero value means the
// defaults.
type CropSetConfig struct {
	// Backgrounds are the photographs to render over; "" is the generated
	// scene. Training uses BackgroundSet("train") and ""; held-out checks
	// use "heldout".
	Backgrounds []string
	// Frames is the number of stereo frames per background; default 24.
	Frames int
	// Jitter is the number of extra crops per ball crop, its centre moved
	// by σ = 0.1 radius and its radius scaled by e^N(0, 0.1) (the blob of
	// a partly hidden or blurred ball is measured that far off); default 3,
	// negative for none.
	Jitter int
	// Radius is the ball's radius, m; default 0.0335 (tennis).
	Radius float64
	// Seed seeds the renders, the ball's positions and the jitter.
	Seed uint64
}

// CropStats counts what TrainingCrops found.
type CropStats struct {
	Frames  int `json:"camera_frames"`
	Ball    int `json:"ball_crops"`  // before jitter
	Other   int `json:"other_crops"` // everything else of the ball's colour
	Skipped int `json:"skipped"`     // candidates on the clutter balls (real balls, left out)
}

// TrainingCrops renders frames over each background with the lab clutter
// (and, over the generated scene, the distractors), the ball at random
// places in the flight volume, runs the colour detector with neither the
// motion cue nor the classifier (every ball-coloured blob, static or not,
// is a candidate) and labels each candidate's crop (BallCrop): 1 when it
// lies on the ball's true image, 0 otherwise; candidates on the clutter's
// real tennis balls are left out, since only motion tells those from the
// thrown one. Deterministic for a config. progress, when not nil, is
// called after each background.
func TrainingCrops(cfg CropSetConfig, progress func(done, total int)) (*ballnet.Samples, CropStats, error) {
	var st CropStats
	if len(cfg.Backgrounds) == 0 {
		return nil, st, fmt.Errorf("training crops: no backgrounds")
	}
	if cfg.Frames == 0 {
		cfg.Frames = 24
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 3
	}
	if cfg.Radius == 0 {
		cfg.Radius = 0.0335
	}
	cfg.Jitter = max(cfg.Jitter, 0)
	if cfg.Frames < 1 || !(cfg.Radius > 0.005 && cfg.Radius < 0.2) {
		return nil, st, fmt.Errorf("training crops: frames %d, jitter %d, radius %v m: want ≥ 1, any, (0.005, 0.2)", cfg.Frames, cfg.Jitter, cfg.Radius)
	}
	rig := camera.DefaultRig()
	det, err := NewDetector(DetectorConfig{Classifier: "off", MotionThreshold: -1, MaxCandidates: 64})
	if err != nil {
		return nil, st, err
	}
	defer det.Close()
	s := &ballnet.Samples{}
	crop := make([]float32, ballnet.In)
	frame := gocv.NewMat()
	defer frame.Close()
	var cands []Candidate
	for bi, bg := range cfg.Backgrounds {
		r, err := NewRenderer(RenderConfig{Background: bg, Clutter: true, Distractors: bg == "", Seed: cfg.Seed*1000 + uint64(bi) + 1}, rig)
		if err != nil {
			return nil, st, err
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(bi)))
		for f := 0; f < cfg.Frames; f++ {
			t := 6 * rng.Float64()
			b := BallState{
				P:      camera.Vec{0.8 + 3.4*rng.Float64(), -1 + 2*rng.Float64(), 0.4 + 1.6*rng.Float64()},
				V:      camera.Vec{-4.5, 0.5 * rng.NormFloat64(), 4 - 6*rng.Float64()},
				Radius: cfg.Radius,
			}
			r.Reseed(uint64(f))
			// The clutter balls' positions at t (scene.go).
			sn, cs := math.Sincos(0.9 * t)
			others := append([]camera.Vec{}, clutterBalls...)
			others = append(others, camera.Vec{clutterRoller[0] + 0.5*sn, clutterRoller[1] + 0.6*cs, 0})
			for ci, c := range rig.Cameras {
				if err := r.Render(ci, t, b, image.Rectangle{}, &frame); err != nil {
					return nil, st, err
				}
				st.Frames++
				if cands, err = det.Detect(frame, image.Rectangle{}, cands); err != nil {
					return nil, st, err
				}
				bu, bv, bok := c.Project(b.P)
				br := imageRadius(c, b.P, cfg.Radius)
				for _, cd := range cands {
					if bok && math.Hypot(cd.U-bu, cd.V-bv) < math.Max(2, 0.5*br) {
						st.Ball++
						if err := addCrop(s, frame, cd, crop, 1); err != nil {
							return nil, st, err
						}
						for k := 0; k < cfg.Jitter; k++ {
							j := cd
							j.U += 0.1 * cd.Radius * rng.NormFloat64()
							j.V += 0.1 * cd.Radius * rng.NormFloat64()
							j.Radius *= math.Exp(0.1 * rng.NormFloat64())
							if err := addCrop(s, frame, j, crop, 1); err != nil {
								return nil, st, err
							}
						}
						continue
					}
					onBall := false
					for _, p := range others {
						p[2] = cfg.Radius
						u, v, ok := c.Project(p)
						if ok && math.Hypot(cd.U-u, cd.V-v) < math.Max(3, imageRadius(c, p, cfg.Radius)) {
							onBall = true
							break
						}
					}
					if onBall {
						st.Skipped++
						continue
					}
					st.Other++
					if err := addCrop(s, frame, cd, crop, 0); err != nil {
						return nil, st, err
					}
				}
			}
		}
		if progress != nil {
			progress(bi+1, len(cfg.Backgrounds))
		}
	}
	return s, st, nil
}

func addCrop(s *ballnet.Samples, frame gocv.Mat, c Candidate, crop []float32, y float32) error {
	if err := BallCrop(frame, c, crop); err != nil {
		return err
	}
	s.Add(crop, y)
	return nil
}

// imageRadius is the ball's image radius at p, px (f·R/depth).
func imageRadius(c *camera.Camera, p camera.Vec, radius float64) float64 {
	q := c.ToCamera(p)
	if q[2] <= 0 {
		return 0
	}
	return c.K[0] * radius / q[2]
}

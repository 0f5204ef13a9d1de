package main

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/internal/cputime"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/perception/vision"
	"github.com/agilecatch/catch/sim"
)

// evalRow is one background's result in `catch track-eval`.
type evalRow struct {
	Background string `json:"background"`
	Frames     int    `json:"frames"`
	InView     int    `json:"in_view"` // frames with the ball wholly inside ≥ 2 images
	// Tracked20 counts in-view frames whose accepted position is within
	// 20 mm of the truth; Rate20 = Tracked20 / InView.
	Tracked20 int     `json:"tracked_20mm"`
	Rate20    float64 `json:"rate_20mm"`
	// False counts accepted positions more than 50 mm from the truth or in
	// frames without a ball (phantoms), Off20 those more than 20 mm off.
	False    int `json:"false_accepted"`
	Off20    int `json:"accepted_over_20mm"`
	Phantoms int `json:"phantom_hypotheses_not_fed"`
	// Why in-view frames were not tracked: no hypothesis passed the
	// detector and gates, hypotheses but none fed (no flight link yet),
	// fed but rejected by the estimator.
	MissNoHyp    int     `json:"miss_no_hypothesis"`
	MissNotFed   int     `json:"miss_not_fed"`
	MissRejected int     `json:"miss_rejected"`
	ErrMedianMM  float64 `json:"error_median_mm"`
	ErrP95MM     float64 `json:"error_p95_mm"`
	// Tracking time per stereo pair (detection in both cameras, matching,
	// estimator; rendering excluded): CPU time of the tracking thread, all
	// steps and the full-frame-search steps; WallMSP99 the wall time, which
	// on a loaded machine also counts time the thread waited for a core.
	StepMSP50 float64 `json:"step_cpu_ms_p50"`
	StepMSP99 float64 `json:"step_cpu_ms_p99"`
	FullMSP99 float64 `json:"full_search_step_cpu_ms_p99"`
	WallMSP99 float64 `json:"step_wall_ms_p99"`
	// StartupCPUMS is the longest of the first evalStartupFrames steps
	// (not in the percentiles).
	StartupCPUMS float64   `json:"startup_step_cpu_ms_max"`
	errs         []float64 // m
	steps, full  []float64 // ms, CPU
	walls        []float64 // ms
}

// evalSummary is what `catch track-eval` prints.
type evalSummary struct {
	Set               string    `json:"background_set"`
	Clutter           bool      `json:"clutter"`
	Scenario          string    `json:"scenario"`
	Throws            int       `json:"throws_per_background"`
	Seed              uint64    `json:"seed"`
	FPS               float64   `json:"fps"`
	Rows              []evalRow `json:"backgrounds"`
	Total             evalRow   `json:"total"`
	FalsePer100Throws float64   `json:"false_per_100_throws"`
	Note              string    `json:"note"`
	WallS             float64   `json:"wall_s"`
}

func init() {
	var (
		set, scenario   string
		classifier      string
		throws, workers int
		seed            uint64
		fps             float64
		clutter, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "track-eval",
		Short: "Track rendered throws over a set of real photographs and score against the truth",
		Long: `Renders --throws throws (each after 16 empty frames) over every photograph
of a background set (vision.BackgroundSet: train, heldout, heldout-clutter;
"plain" is the generated scene), optionally with lab clutter (--clutter:
balls on the floor, a rolling ball, a yellow shirt, a yellow logo, a cone,
an occluding pole, drifting light), runs the tracker on the stereo pair and
prints per background: the in-view frames tracked within 20 mm, the error
median and p95, the positions accepted by the estimator more than 50 mm
from the truth or without a ball (false), and the tracking time per stereo
pair (render time excluded; the frames are rendered lazily, only where the
tracker looks).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			sc, err := sim.Lookup(scenario)
			if err != nil {
				return err
			}
			if throws <= 0 || throws > 1000 {
				return fmt.Errorf("--throws %d: want 1..1000", throws)
			}
			if classifier != "" && classifier != "off" {
				if _, err := os.Stat(classifier); err != nil {
					return fmt.Errorf("--classifier: %w", err)
				}
			}
			if !(fps > 0 && fps <= 2000) {
				return fmt.Errorf("--fps %v: want (0, 2000]", fps)
			}
			bgs := []string{""}
			if set != "plain" {
				if bgs, err = vision.BackgroundSet(set); err != nil {
					return fmt.Errorf("--background-set: %w", err)
				}
			}
			if workers <= 0 {
				workers = 2
			}
			vision.SetOpenCVThreads(1)
			rows := make([]evalRow, len(bgs))
			errs := make([]error, len(bgs))
			balls := renderTimeline(sc, throws, seed, fps)
			var wg sync.WaitGroup
			sem := make(chan struct{}, workers)
			for i, bg := range bgs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					rows[i], errs[i] = evalBackground(bg, clutter, classifier, seed, balls, fps, sc)
					name := "plain"
					if bg != "" {
						name = filepath.Base(bg)
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "track-eval: %s: %.2f%% within 20 mm, false %d\n", name, 100*rows[i].Rate20, rows[i].False)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return failed(err)
				}
			}
			sum := evalSummary{Set: set, Clutter: clutter, Scenario: sc.Name, Throws: throws, Seed: seed, FPS: fps, Rows: rows,
				Note: "step times per stereo pair on one OpenCV thread: CPU time of the tracking thread (wall time p99 beside it counts waits for a core); " + fmt.Sprint(workers) + " backgrounds evaluated at once"}
			tot := &sum.Total
			tot.Background = "all"
			for _, r := range rows {
				tot.Frames += r.Frames
				tot.InView += r.InView
				tot.Tracked20 += r.Tracked20
				tot.False += r.False
				tot.Off20 += r.Off20
				tot.Phantoms += r.Phantoms
				tot.MissNoHyp += r.MissNoHyp
				tot.MissNotFed += r.MissNotFed
				tot.MissRejected += r.MissRejected
				tot.errs = append(tot.errs, r.errs...)
				tot.steps = append(tot.steps, r.steps...)
				tot.full = append(tot.full, r.full...)
				tot.walls = append(tot.walls, r.walls...)
				tot.StartupCPUMS = max(tot.StartupCPUMS, r.StartupCPUMS)
			}
			finishRow(tot)
			sum.FalsePer100Throws = 100 * float64(tot.False) / float64(throws*len(bgs))
			sum.WallS = time.Since(start).Seconds()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-24s %7s %9s %9s %9s %6s %6s %8s %8s  %s\n", "background", "in-view", "≤20mm", "median", "p95", "false", ">20mm", "cpu p50", "cpu p99", "misses: no-hyp/not-fed/rejected")
			for _, r := range append(rows, *tot) {
				fmt.Fprintf(w, "%-24s %7d %8.2f%% %7.2fmm %7.2fmm %6d %6d %8.3f %8.3f  %d/%d/%d\n", r.Background, r.InView, 100*r.Rate20, r.ErrMedianMM, r.ErrP95MM, r.False, r.Off20, r.StepMSP50, r.StepMSP99, r.MissNoHyp, r.MissNotFed, r.MissRejected)
			}
			fmt.Fprintf(w, "false accepted per 100 throws: %.2f\n", sum.FalsePer100Throws)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&set, "background-set", "heldout", "photographs: "+strings.Join(vision.BackgroundSetNames(), ", ")+", or plain (the generated scene)")
	f.BoolVar(&clutter, "clutter", false, "add lab clutter (balls on the floor, a rolling ball, yellow shirt and logo, cone, pole, drifting light)")
	f.StringVar(&scenario, "scenario", "nominal", "scenario name or .yaml file")
	f.IntVar(&throws, "throws", 20, "throws per background")
	f.Uint64Var(&seed, "seed", 1, "random seed (throws, noise)")
	f.Float64Var(&fps, "fps", vision.DefaultFPS, "camera frame rate, Hz")
	f.IntVar(&workers, "workers", 2, "backgrounds evaluated at once")
	f.StringVar(&classifier, "classifier", "", "the detector's candidate classifier: the shipped model (default), off, or a FILE.onnx of catch train detector")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	root.AddCommand(cmd)
}

// evalStartupFrames: the detector's background warm-up (8 frames) and one
// more.
const evalStartupFrames = 9

// lazyFrames renders the regions the tracker asks for, for one time step.
type lazyFrames struct {
	r      *vision.Renderer
	rig    *camera.Rig
	frames []gocv.Mat
	done   []image.Rectangle
	t      float64
	b      vision.BallState
	render time.Duration
	cpu    int64 // ns of thread CPU time spent rendering
}

func (l *lazyFrames) Frame(cam int, rect image.Rectangle) (gocv.Mat, error) {
	c := l.rig.Cameras[cam]
	full := image.Rect(0, 0, c.Width, c.Height)
	if rect.Empty() {
		rect = full
	}
	rect = rect.Intersect(full)
	if l.done[cam].Empty() || !rect.In(l.done[cam]) {
		t0, c0 := time.Now(), cputime.Thread()
		err := l.r.Render(cam, l.t, l.b, rect, &l.frames[cam])
		l.render += time.Since(t0)
		l.cpu += cputime.Thread() - c0
		if err != nil {
			return gocv.Mat{}, err
		}
		l.done[cam] = rect
	}
	return l.frames[cam], nil
}

func evalBackground(bg string, clutter bool, classifier string, seed uint64, balls []vision.BallState, fps float64, sc *sim.Scenario) (evalRow, error) {
	row := evalRow{Background: "plain"}
	if bg != "" {
		row.Background = filepath.Base(bg)
	}
	rig := camera.DefaultRig()
	r, err := vision.NewRenderer(vision.RenderConfig{Seed: seed, Background: bg, Clutter: clutter}, rig)
	if err != nil {
		return row, err
	}
	tr, err := vision.NewTracker(vision.TrackerConfig{Detector: vision.DetectorConfig{Classifier: classifier}}, rig, sc.BallProps())
	if err != nil {
		return row, err
	}
	defer tr.Close()
	runtime.LockOSThread() // thread CPU time below measures this goroutine
	defer runtime.UnlockOSThread()
	lf := &lazyFrames{r: r, rig: rig}
	for range rig.Cameras {
		lf.frames = append(lf.frames, gocv.NewMat())
		lf.done = append(lf.done, image.Rectangle{})
	}
	defer func() {
		for i := range lf.frames {
			lf.frames[i].Close()
		}
	}()
	var res vision.Result
	// The miss counter each of the last two frames went to (nil: none),
	// and whether it was in view.
	var prevMiss [2]*int
	var prevInView [2]bool
	for n, b := range balls {
		lf.t, lf.b, lf.render, lf.cpu = float64(n)/fps, b, 0, 0
		for i := range lf.done {
			lf.done[i] = image.Rectangle{}
		}
		t0, c0 := time.Now(), cputime.Thread()
		if err := tr.Step(lf.t, lf, &res); err != nil {
			return row, fmt.Errorf("%s frame %d: %w", row.Background, n, err)
		}
		ms := float64(cputime.Thread()-c0-lf.cpu) / 1e6
		// The camera's first frames, while the background model
		// learns (colour alone, every ball-coloured blob refined), are a
		// start-up cost, not the running one: timed separately.
		if n < evalStartupFrames {
			row.StartupCPUMS = max(row.StartupCPUMS, ms)
		} else {
			row.walls = append(row.walls, float64(time.Since(t0)-lf.render)/1e6)
			row.steps = append(row.steps, ms)
			if res.FullSearch {
				row.full = append(row.full, ms)
			}
		}
		row.Frames++
		// A throw's first frames are accepted one or two frames late,
		// when the third confirms them: score each against its own
		// frame's truth.
		for k := 0; k < res.Late; k++ {
			m := int(math.Round(res.LateT[k] * fps))
			back := n - m
			if back < 1 || back > len(prevMiss) {
				return row, fmt.Errorf("%s frame %d: a late point of frame %d", row.Background, n, m)
			}
			if pm := prevMiss[back-1]; pm != nil {
				*pm--
				prevMiss[back-1] = nil
			}
			row.accept(res.LateP[k], balls[m], prevInView[back-1])
		}
		copy(prevMiss[1:], prevMiss[:1])
		copy(prevInView[1:], prevInView[:1])
		prevMiss[0], prevInView[0] = nil, false
		if b.Hidden {
			if res.Found {
				row.False++
				row.Off20++
			}
			continue
		}
		seen := 0
		for _, c := range rig.Cameras {
			if c.Sees(b.P, b.Radius, 0) {
				seen++
			}
		}
		inView := seen >= 2
		prevInView[0] = inView
		if inView {
			row.InView++
		}
		if !res.Found {
			if inView {
				switch {
				case res.Hypotheses == 0:
					prevMiss[0] = &row.MissNoHyp
				case res.Rejected:
					prevMiss[0] = &row.MissRejected
				default:
					prevMiss[0] = &row.MissNotFed
				}
				*prevMiss[0]++
			}
			continue
		}
		row.accept(res.P, b, inView)
	}
	row.Phantoms = tr.Phantoms
	finishRow(&row)
	return row, nil
}

// accept scores a position the estimator accepted for the frame of ball
// state b.
func (row *evalRow) accept(p camera.Vec, b vision.BallState, inView bool) {
	if b.Hidden {
		row.False++
		row.Off20++
		return
	}
	d := dist3v(p, b.P)
	if d > falseDetectionM {
		row.False++
	}
	if d > 0.02 {
		row.Off20++
		return
	}
	row.errs = append(row.errs, d)
	if inView {
		row.Tracked20++
	}
}

func finishRow(r *evalRow) {
	if r.InView > 0 {
		r.Rate20 = float64(r.Tracked20) / float64(r.InView)
	}
	pct := func(v []float64, q float64) float64 {
		if len(v) == 0 {
			return 0
		}
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[max(0, min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1))]
	}
	r.ErrMedianMM = 1000 * pct(r.errs, 0.5)
	r.ErrP95MM = 1000 * pct(r.errs, 0.95)
	r.StepMSP50 = pct(r.steps, 0.5)
	r.StepMSP99 = pct(r.steps, 0.99)
	r.FullMSP99 = pct(r.full, 0.99)
	r.WallMSP99 = pct(r.walls, 0.99)
}

func dist3v(a, b camera.Vec) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

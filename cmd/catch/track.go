package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/perception/vision"
)

// trackSummary is what `catch track` prints.
type trackSummary struct {
	Frames       int `json:"frames"`
	Triangulated int `json:"triangulated"`
	// Late counts the positions of Triangulated accepted one or two
	// frames late (a flight's first frames, confirmed by its third).
	Late         int            `json:"accepted_late"`
	Rejected     int            `json:"rejected_by_estimator"`
	Detections   map[string]int `json:"detections_per_camera"`
	FullSearches int            `json:"full_frame_searches"`
	// MSPerFrame is detection + matching + triangulation + estimator per
	// frame time (all cameras); DecodeMSPerFrame the video decoding.
	MSPerFrame       float64 `json:"ms_per_frame"`
	DecodeMSPerFrame float64 `json:"decode_ms_per_frame"`
	LongestGapFrames int     `json:"longest_gap_frames"`
	// EpipolarMedianPx is the median reprojection error of the two-view
	// triangulation over the EpipolarFrames frames in which each camera saw
	// exactly one candidate (the rig-consistency check, epipolarLimitPx).
	EpipolarMedianPx float64    `json:"epipolar_median_px"`
	EpipolarFrames   int        `json:"epipolar_frames"`
	Warnings         []string   `json:"warnings,omitempty"`
	Truth            *truthEval `json:"truth,omitempty"`
}

// truthEval compares the track with a truth.csv from `catch render`.
type truthEval struct {
	BallFrames int `json:"ball_frames"` // frames with a ball in the scene
	InView     int `json:"in_view"`     // ... wholly inside ≥ 2 images
	Detected   int `json:"detected"`    // in-view frames with a position within 5 cm of truth
	// DetectionRate = Detected / InView.
	DetectionRate float64 `json:"detection_rate"`
	// FalseDetections are positions more than 5 cm from the truth, or
	// reported in frames without a ball; the rate is over all frames.
	FalseDetections    int     `json:"false_detections"`
	FalseDetectionRate float64 `json:"false_detection_rate"`
	ErrMedianMM        float64 `json:"error_median_mm"`
	ErrP95MM           float64 `json:"error_p95_mm"`
	ErrMaxMM           float64 `json:"error_max_mm"`
}

// falseDetectionM is the distance from the truth beyond which a position
// counts as a false detection: over a ball diameter off.
const falseDetectionM = 0.05

func init() {
	var (
		rigPath, outPath, truthPath, mode, ballName string
		videos                                      []string
		fps, epiLimit                               float64
		asJSON, noROI                               bool
	)
	cmd := &cobra.Command{
		Use:   "track",
		Short: "Track the ball in camera videos and triangulate it",
		Long: `Runs the detector on every camera's video (--video NAME=PATH for each camera
of the rig; PATH may also be a directory of images, a device index or a
GStreamer pipeline), matches detections across cameras by triangulation with
an epipolar (reprojection) gate, and feeds the positions to the ball
estimator, whose prediction places the regions of interest of the next
frame. Writes --out as CSV: t,x,y,z per triangulated frame, then each
camera's pixel (u,v), the reprojection error and the estimator's state at t.
Prints a summary; with --truth (a truth.csv from catch render) also the 3D
error, detection rate and false detections.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rigPath == "" {
				return errors.New("--cameras: missing (a rig file such as DIR/cameras.yaml)")
			}
			if outPath == "" {
				return errors.New("--out: missing (the track CSV)")
			}
			rig, err := camera.LoadRig(rigPath)
			if err != nil {
				return err
			}
			if len(rig.Cameras) < 2 {
				return fmt.Errorf("--cameras %s: %d camera(s), triangulation needs at least 2", rigPath, len(rig.Cameras))
			}
			props, err := ball.ByName(ballName)
			if err != nil {
				return fmt.Errorf("--ball: %w", err)
			}
			specs := map[string]string{}
			for _, v := range videos {
				name, path, ok := strings.Cut(v, "=")
				if !ok || name == "" || path == "" {
					return fmt.Errorf("--video %q: want NAME=PATH", v)
				}
				if rig.Find(name) == nil {
					return fmt.Errorf("--video %s: no camera %q in %s", v, name, rigPath)
				}
				if _, dup := specs[name]; dup {
					return fmt.Errorf("--video: camera %s given twice", name)
				}
				specs[name] = path
			}
			var truth *truthTable
			if truthPath != "" {
				if truth, err = readTruth(truthPath); err != nil {
					return err
				}
			}
			srcs := make([]vision.Source, len(rig.Cameras))
			defer func() {
				for _, s := range srcs {
					if s != nil {
						s.Close()
					}
				}
			}()
			for i, c := range rig.Cameras {
				spec, ok := specs[c.Name]
				if !ok {
					return fmt.Errorf("--video: none for camera %s (want one --video NAME=PATH per camera of %s)", c.Name, rigPath)
				}
				if st, err := os.Stat(spec); err == nil && st.IsDir() {
					srcs[i], err = vision.OpenImageDir(spec, fps)
					if err != nil {
						return err
					}
					continue
				}
				vs, err := vision.OpenVideo(spec, fps)
				if err != nil {
					return err
				}
				srcs[i] = vs
				if sz := vs.Size(); sz.X != 0 && (sz.X != c.Width || sz.Y != c.Height) {
					return fmt.Errorf("--video %s=%s: frames are %d×%d, but its calibration says %d×%d", c.Name, spec, sz.X, sz.Y, c.Width, c.Height)
				}
			}
			vision.SetOpenCVThreads(1)
			tr, err := vision.NewTracker(vision.TrackerConfig{Detector: vision.DetectorConfig{Mode: mode}, NoROI: noROI}, rig, props)
			if err != nil {
				return err
			}
			defer tr.Close()
			sum, err := runTrack(rig, srcs, tr, outPath, truth, props.Radius, epiLimit)
			if errors.Is(err, errTruthTimes) || errors.Is(err, errEpipolar) {
				return err // bad input: exit 2
			}
			if err != nil {
				return failed(err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d frames, %d triangulated (%d rejected by the estimator), %d full-frame searches\n", sum.Frames, sum.Triangulated, sum.Rejected, sum.FullSearches)
			for _, c := range rig.Cameras {
				fmt.Fprintf(w, "  %s: %d detections\n", c.Name, sum.Detections[c.Name])
			}
			fmt.Fprintf(w, "  %.3f ms per frame tracking, %.3f ms decoding; longest gap %d frames\n", sum.MSPerFrame, sum.DecodeMSPerFrame, sum.LongestGapFrames)
			if e := sum.Truth; e != nil {
				fmt.Fprintf(w, "  vs truth: error median %.2f mm, p95 %.2f mm, max %.2f mm; detected %d/%d in view (%.2f%%); false %d (%.3f%% of frames)\n",
					e.ErrMedianMM, e.ErrP95MM, e.ErrMaxMM, e.Detected, e.InView, 100*e.DetectionRate, e.FalseDetections, 100*e.FalseDetectionRate)
			}
			for _, m := range sum.Warnings {
				fmt.Fprintf(w, "  warning: %s\n", m)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rigPath, "cameras", "", "rig file (cameras with ROS camera_info calibrations and poses)")
	f.StringArrayVar(&videos, "video", nil, "NAME=PATH for each camera: video file, image directory, device index or GStreamer pipeline")
	f.Float64Var(&fps, "fps", 0, "frame rate for timestamps, Hz (default: the video's own, else 125)")
	f.Float64Var(&epiLimit, "epipolar-limit-px", defaultEpipolarLimitPx, "refuse videos whose single-candidate frames triangulate with a median reprojection error above this, px: swapped or duplicated cameras (0: no check)")
	f.StringVar(&outPath, "out", "", "track CSV to write")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.StringVar(&truthPath, "truth", "", "truth.csv from catch render: also report the error against it")
	f.StringVar(&mode, "mode", vision.ModeColor, "detector mode: color or bgsub")
	f.StringVar(&ballName, "ball", "tennis", "ball property set (its radius corrects the silhouette bias; its drag model drives the estimator)")
	f.BoolVar(&noROI, "no-roi", false, "search full frames every time (no ROI tracking)")
	root.AddCommand(cmd)
}

type truthRow struct {
	t     float64
	p     camera.Vec
	valid bool
}

// truthTable is a truth.csv sorted by time. Frames are matched to rows by
// timestamp, not by row number: a truth file that starts later, skips rows
// or is shorter than the video scores only the frames it covers.
type truthTable struct {
	rows []truthRow
	tol  float64 // a frame matches a row within this many s: a quarter of the median row interval
}

// at returns the index of the row nearest to t, or -1 when none is within
// tol.
func (tt *truthTable) at(t float64) int {
	k := sort.Search(len(tt.rows), func(i int) bool { return tt.rows[i].t >= t })
	best, bd := -1, tt.tol
	for _, i := range [2]int{k - 1, k} {
		if i >= 0 && i < len(tt.rows) {
			if d := math.Abs(tt.rows[i].t - t); d <= bd {
				best, bd = i, d
			}
		}
	}
	return best
}

// errTruthTimes: the truth file covers none of the frames' timestamps.
var errTruthTimes = errors.New("--truth")

func readTruth(path string) (*truthTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--truth: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	head, err := r.Read()
	if err != nil || strings.Join(head, ",") != "t,x,y,z" {
		return nil, fmt.Errorf("--truth %s: want the header t,x,y,z", path)
	}
	var rows []truthRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--truth %s: %w", path, err)
		}
		var row truthRow
		if row.t, err = strconv.ParseFloat(rec[0], 64); err != nil {
			return nil, fmt.Errorf("--truth %s line %d: t: %w", path, line, err)
		}
		if rec[1] != "" {
			row.valid = true
			for k := 0; k < 3; k++ {
				if row.p[k], err = strconv.ParseFloat(rec[k+1], 64); err != nil {
					return nil, fmt.Errorf("--truth %s line %d: %w", path, line, err)
				}
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("--truth %s: no rows after the header", path)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].t < rows[j].t })
	dts := make([]float64, 0, len(rows))
	for i := 1; i < len(rows); i++ {
		if dt := rows[i].t - rows[i-1].t; dt > 0 {
			dts = append(dts, dt)
		} else {
			return nil, fmt.Errorf("--truth %s: two rows at t = %v s", path, rows[i].t)
		}
	}
	tt := &truthTable{rows: rows, tol: 0.25 / vision.DefaultFPS}
	if len(dts) > 0 {
		sort.Float64s(dts)
		tt.tol = 0.25 * dts[len(dts)/2]
	}
	return tt, nil
}

// The rig-consistency check: over the frames in which each camera sees
// exactly one candidate, the median two-view reprojection (epipolar) error
// of those candidates. On rendered throws, matching videos give a median
// of 0.1 px (max 0.33 px), swapped or duplicated ones 1.4–3.3 px (tuned on
// seeds 5–7 of nominal and hand-lob); the default limit, 1 px, is half the
// tracker's own match gate. Judged after epipolarFrames such frames (or at
// the end, from epipolarMinFrames), so a wrong input is refused early.
const (
	defaultEpipolarLimitPx = 1.0
	epipolarFrames         = 30
	epipolarMinFrames      = 5
)

var errEpipolar = errors.New("the camera videos do not fit the rig")

func runTrack(rig *camera.Rig, srcs []vision.Source, tr *vision.Tracker, outPath string, truth *truthTable, radius, epiLimit float64) (*trackSummary, error) {
	out, err := os.Create(outPath)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	head := []string{"t", "x", "y", "z"}
	for _, c := range rig.Cameras {
		head = append(head, c.Name+"_u", c.Name+"_v")
	}
	head = append(head, "reproj_px", "est_valid", "est_x", "est_y", "est_z", "est_vx", "est_vy", "est_vz")
	fmt.Fprintln(w, strings.Join(head, ","))

	sum := &trackSummary{Detections: map[string]int{}}
	frames := make(vision.Frames, len(rig.Cameras))
	for i := range frames {
		frames[i] = gocv.NewMat()
	}
	defer func() {
		for i := range frames {
			frames[i].Close()
		}
	}()
	var res vision.Result
	var trackD, decodeD time.Duration
	gap := 0
	var errs []float64
	ev := &truthEval{}
	counts := make([]int, len(rig.Cameras))
	buf := make([]byte, 0, 512)
	matched := 0 // frames with a truth row at their timestamp
	var firstT, lastT float64
	var epi []float64
	for n := 0; ; n++ {
		t0 := time.Now()
		var ts float64
		ended := -1
		for i, s := range srcs {
			t, err := s.Read(&frames[i])
			if err == io.EOF {
				ended = i
				break
			}
			if err != nil {
				return nil, fmt.Errorf("camera %s frame %d: %w", rig.Cameras[i].Name, n, err)
			}
			c := rig.Cameras[i]
			if frames[i].Cols() != c.Width || frames[i].Rows() != c.Height {
				return nil, fmt.Errorf("camera %s frame %d: %d×%d, but its calibration says %d×%d", c.Name, n, frames[i].Cols(), frames[i].Rows(), c.Width, c.Height)
			}
			if i == 0 {
				ts = t
			}
		}
		if ended >= 0 {
			// Report streams of different lengths.
			for i, s := range srcs {
				if i == ended {
					continue
				}
				if _, err := s.Read(&frames[i]); err == nil {
					sum.Warnings = append(sum.Warnings, fmt.Sprintf("videos differ in length: %s ended after %d frames while %s has more; tracked the first %d",
						rig.Cameras[ended].Name, n, rig.Cameras[i].Name, n))
					break
				}
			}
			if n == 0 {
				return nil, errors.New("no frames: the videos are empty")
			}
			break
		}
		t1 := time.Now()
		decodeD += t1.Sub(t0)
		if err := tr.Step(ts, frames, &res); err != nil {
			return nil, fmt.Errorf("frame %d: %w", n, err)
		}
		trackD += time.Since(t1)
		if len(epi) < epipolarFrames {
			if e, ok := epipolarError(rig, tr, radius); ok {
				epi = append(epi, e)
				if len(epi) == epipolarFrames {
					if err := checkEpipolar(rig, epi, sum, epiLimit); err != nil {
						return nil, err
					}
				}
			}
		}
		sum.Frames++
		if n == 0 {
			firstT = ts
		}
		lastT = ts
		if res.Rejected {
			sum.Rejected++
		}
		// A flight's first frames are accepted when the third confirms
		// them: their rows come before this frame's, without pixels.
		for k := 0; k < res.Late; k++ {
			late := vision.Result{T: res.LateT[k], Found: true, P: res.LateP[k], ReprojPx: math.NaN()}
			for i := range late.Pixel {
				late.Pixel[i] = [2]float64{math.NaN(), math.NaN()}
			}
			sum.Triangulated++
			sum.Late++
			buf = appendTrackRow(buf[:0], rig, &late)
			w.Write(buf)
			if truth != nil {
				if j := truth.at(late.T); j >= 0 {
					evalLate(rig, truth.rows[j], late.P, ev, &errs)
				}
			}
		}
		if !res.Found {
			gap++
			sum.LongestGapFrames = max(sum.LongestGapFrames, gap)
		} else {
			gap = 0
			sum.Triangulated++
			for i := range rig.Cameras {
				if !math.IsNaN(res.Pixel[i][0]) {
					counts[i]++
				}
			}
			buf = appendTrackRow(buf[:0], rig, &res)
			w.Write(buf)
		}
		if truth != nil {
			if k := truth.at(ts); k >= 0 {
				evalFrame(rig, truth.rows[k], &res, ev, &errs)
				matched++
			}
		}
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	if len(epi) >= epipolarMinFrames && len(epi) < epipolarFrames {
		if err := checkEpipolar(rig, epi, sum, epiLimit); err != nil {
			return nil, err
		}
	}
	for i, c := range rig.Cameras {
		sum.Detections[c.Name] = counts[i]
		if counts[i] == 0 {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("camera %s never contributed a detection: check its video, calibration and pose", c.Name))
		}
	}
	if sum.Triangulated == 0 {
		sum.Warnings = append(sum.Warnings, "no frame gave a triangulated ball position")
	}
	sum.FullSearches = tr.FullSearches
	if sum.Frames > 0 {
		sum.MSPerFrame = trackD.Seconds() * 1000 / float64(sum.Frames)
		sum.DecodeMSPerFrame = decodeD.Seconds() * 1000 / float64(sum.Frames)
	}
	if truth != nil {
		if matched == 0 {
			return nil, fmt.Errorf("%w: no frame timestamp (%.4f..%.4f s) has a truth row within %.2f ms (the truth spans %.4f..%.4f s): wrong file or wrong --fps",
				errTruthTimes, firstT, lastT, 1000*truth.tol, truth.rows[0].t, truth.rows[len(truth.rows)-1].t)
		}
		if matched < sum.Frames {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("truth: %d of %d frames have no truth row at their timestamp (within %.2f ms); they are not scored", sum.Frames-matched, sum.Frames, 1000*truth.tol))
		}
		if len(truth.rows) > matched {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("truth: %d of its %d rows match no frame", len(truth.rows)-matched, len(truth.rows)))
		}
		sort.Float64s(errs)
		if len(errs) > 0 {
			ev.ErrMedianMM = 1000 * errs[(len(errs)-1)/2]
			ev.ErrP95MM = 1000 * errs[int(math.Ceil(0.95*float64(len(errs))))-1]
			ev.ErrMaxMM = 1000 * errs[len(errs)-1]
		}
		if ev.InView > 0 {
			ev.DetectionRate = float64(ev.Detected) / float64(ev.InView)
		}
		if sum.Frames > 0 {
			ev.FalseDetectionRate = float64(ev.FalseDetections) / float64(sum.Frames)
		}
		sum.Truth = ev
	}
	return sum, nil
}

// epipolarError is the reprojection error of triangulating the first two
// cameras' candidates when each camera has exactly one (+Inf when the rays
// do not triangulate); ok is false otherwise.
func epipolarError(rig *camera.Rig, tr *vision.Tracker, radius float64) (float64, bool) {
	for i := range rig.Cameras {
		if len(tr.Candidates(i)) != 1 {
			return 0, false
		}
	}
	a, b := tr.Candidates(0)[0], tr.Candidates(1)[0]
	views := [2]camera.View{{Cam: rig.Cameras[0], U: a.U, V: a.V}, {Cam: rig.Cameras[1], U: b.U, V: b.V}}
	pt, err := camera.Triangulate(views[:], radius)
	if err != nil {
		return math.Inf(1), true
	}
	return pt.MaxPx, true
}

// checkEpipolar records the median of epi in sum and refuses a median above
// limit (0: no check).
func checkEpipolar(rig *camera.Rig, epi []float64, sum *trackSummary, limit float64) error {
	s := append([]float64(nil), epi...)
	sort.Float64s(s)
	med := s[len(s)/2]
	sum.EpipolarMedianPx, sum.EpipolarFrames = med, len(s)
	if limit > 0 && med > limit {
		return fmt.Errorf("%w: where cameras %s and %s each saw one ball candidate (%d frames), the median reprojection (epipolar) error is %.3g px, want ≤ %g (--epipolar-limit-px): swapped, duplicated or unsynchronised videos, or a wrong rig file",
			errEpipolar, rig.Cameras[0].Name, rig.Cameras[1].Name, len(s), med, limit)
	}
	return nil
}

// appendTrackRow appends the CSV row of a found position (NaN pixels and
// reprojection error are left empty).
func appendTrackRow(buf []byte, rig *camera.Rig, res *vision.Result) []byte {
	buf = appendF(buf, res.T, 6)
	for _, v := range res.P {
		buf = append(buf, ',')
		buf = appendF(buf, v, 6)
	}
	for i := range rig.Cameras {
		for _, v := range res.Pixel[i] {
			buf = append(buf, ',')
			if !math.IsNaN(v) {
				buf = appendF(buf, v, 3)
			}
		}
	}
	buf = append(buf, ',')
	if !math.IsNaN(res.ReprojPx) {
		buf = appendF(buf, res.ReprojPx, 3)
	}
	e := &res.Est
	buf = append(buf, ',')
	buf = strconv.AppendBool(buf, e.Valid)
	for _, v := range [...]float64{e.State.P[0], e.State.P[1], e.State.P[2], e.State.V[0], e.State.V[1], e.State.V[2]} {
		buf = append(buf, ',')
		if e.Valid {
			buf = appendF(buf, v, 6)
		}
	}
	return append(buf, '\n')
}

// evalLate scores a position accepted late for a frame that evalFrame
// already counted as not found.
func evalLate(rig *camera.Rig, tr truthRow, p camera.Vec, ev *truthEval, errs *[]float64) {
	if !tr.valid {
		ev.FalseDetections++
		return
	}
	d := math.Sqrt((p[0]-tr.p[0])*(p[0]-tr.p[0]) + (p[1]-tr.p[1])*(p[1]-tr.p[1]) + (p[2]-tr.p[2])*(p[2]-tr.p[2]))
	if d > falseDetectionM {
		ev.FalseDetections++
		return
	}
	*errs = append(*errs, d)
	seen := 0
	for _, c := range rig.Cameras {
		if c.Sees(tr.p, 0.0335, 0) {
			seen++
		}
	}
	if seen >= 2 {
		ev.Detected++
	}
}

// evalFrame scores one frame against the truth. Errors are collected over
// correct detections (within falseDetectionM); farther ones are false.
func evalFrame(rig *camera.Rig, tr truthRow, res *vision.Result, ev *truthEval, errs *[]float64) {
	if !tr.valid {
		if res.Found {
			ev.FalseDetections++
		}
		return
	}
	ev.BallFrames++
	seen := 0
	for _, c := range rig.Cameras {
		if c.Sees(tr.p, 0.0335, 0) {
			seen++
		}
	}
	inView := seen >= 2
	if inView {
		ev.InView++
	}
	if !res.Found {
		return
	}
	d := math.Sqrt((res.P[0]-tr.p[0])*(res.P[0]-tr.p[0]) + (res.P[1]-tr.p[1])*(res.P[1]-tr.p[1]) + (res.P[2]-tr.p[2])*(res.P[2]-tr.p[2]))
	if d > falseDetectionM {
		ev.FalseDetections++
		return
	}
	*errs = append(*errs, d)
	if inView {
		ev.Detected++
	}
}

func appendF(b []byte, v float64, prec int) []byte { return strconv.AppendFloat(b, v, 'f', prec, 64) }

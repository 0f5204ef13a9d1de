package calib

import (
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/perception/camera"
)

// Board is a chessboard target.
type Board struct {
	Cols, Rows int     // inner corners per row and per column (9x6 for OpenCV's samples)
	SquareM    float64 // square side, m
}

// Validate reports the first bad field.
func (b Board) Validate() error {
	if b.Cols < 2 || b.Rows < 2 {
		return fmt.Errorf("board %dx%d: want at least 2x2 inner corners", b.Cols, b.Rows)
	}
	if !(b.SquareM > 0 && b.SquareM < 10) {
		return fmt.Errorf("board square %v m: want (0, 10)", b.SquareM)
	}
	return nil
}

// Points returns the board's corners in its own frame (z = 0), row-major
// in OpenCV's corner order.
func (b Board) Points() []gocv.Point3f {
	pts := make([]gocv.Point3f, 0, b.Cols*b.Rows)
	for r := 0; r < b.Rows; r++ {
		for c := 0; c < b.Cols; c++ {
			pts = append(pts, gocv.Point3f{X: float32(float64(c) * b.SquareM), Y: float32(float64(r) * b.SquareM)})
		}
	}
	return pts
}

// View is one image's detected corners.
type View struct {
	File    string
	Size    image.Point
	Corners []gocv.Point2f
}

// ErrInput marks a refusal caused by the images or the board given (wrong
// board size, too few views, images that cannot be a stereo pair), as
// opposed to a failure of OpenCV.
var ErrInput = errors.New("calib")

// ErrUnreadable marks an image file OpenCV cannot decode.
var ErrUnreadable = errors.New("OpenCV cannot read it as an image")

// Detect finds the board's inner corners in an image file with
// cv::findChessboardCorners and refines them to sub-pixel accuracy
// (cornerSubPix, 11×11 window, 30 iterations or 0.001 px, the OpenCV
// samples' settings). ok is false when the board is not found; an
// undecodable file gives an error wrapping ErrUnreadable.
func Detect(file string, b Board) (v View, ok bool, err error) {
	v, ok, _, err = detect(file, b, false)
	return v, ok, err
}

// detect is Detect; with probe set it also reports whether the image holds
// a board one corner wider or taller than b: then b is a sub-grid of the
// real board, which calibrates without complaint but to a skewed result.
func detect(file string, b Board, probe bool) (v View, ok bool, bigger *Board, err error) {
	img := gocv.IMRead(file, gocv.IMReadGrayScale)
	defer img.Close()
	if img.Empty() {
		return v, false, nil, fmt.Errorf("calib: %s: %w", file, ErrUnreadable)
	}
	v = View{File: file, Size: image.Pt(img.Cols(), img.Rows())}
	corners := gocv.NewMat()
	defer corners.Close()
	if !gocv.FindChessboardCorners(img, image.Pt(b.Cols, b.Rows), &corners, gocv.CalibCBAdaptiveThresh|gocv.CalibCBNormalizeImage) {
		return v, false, nil, nil
	}
	if probe {
		for _, g := range [...]Board{{Cols: b.Cols + 1, Rows: b.Rows}, {Cols: b.Cols, Rows: b.Rows + 1}} {
			m := gocv.NewMat()
			found := gocv.FindChessboardCorners(img, image.Pt(g.Cols, g.Rows), &m, gocv.CalibCBAdaptiveThresh|gocv.CalibCBNormalizeImage|gocv.CalibCBFastCheck)
			m.Close()
			if found {
				g.SquareM = b.SquareM
				bigger = &g
				break
			}
		}
	}
	crit := gocv.NewTermCriteria(gocv.Count|gocv.EPS, 30, 0.001)
	gocv.CornerSubPix(img, &corners, image.Pt(11, 11), image.Pt(-1, -1), crit)
	v.Corners = gocv.NewPoint2fVectorFromMat(corners).ToPoints()
	if len(v.Corners) != b.Cols*b.Rows {
		return v, false, nil, fmt.Errorf("calib: %s: %d corners, want %d", file, len(v.Corners), b.Cols*b.Rows)
	}
	return v, true, bigger, nil
}

// Pose is a rigid transform: a point p in the source frame is R·p + T in
// the target frame.
type Pose struct {
	R [3][3]float64
	T [3]float64
}

// Intrinsic is an intrinsic calibration's result.
type Intrinsic struct {
	Intrinsics camera.Intrinsics
	RMSPx      float64  // OpenCV's RMS reprojection error over all corners
	Used       []string // files whose board was found, in order
	Skipped    []string // files without a board
	Unreadable []string // files OpenCV could not decode (skipped, counted in Warnings)
	// HeldOutRMSPx is the reprojection error of the last used view under a
	// calibration of the others (its pose solved with those intrinsics):
	// how well the result predicts an image it was not fitted to. Zero with
	// fewer than 4 views.
	HeldOutRMSPx float64
	// Warnings say what was skipped or looks doubtful.
	Warnings []string
	// BoardInCam is each used view's board pose in the camera's optical
	// frame.
	BoardInCam []Pose
}

// Options tune Intrinsics. The zero value means OpenCV's default model
// (k1, k2, p1, p2, k3, all free).
type Options struct {
	// Flags are extra cv::calibrateCamera flags (CALIB_*).
	Flags int
	// MinBaselineM is the shortest stereo baseline accepted (default 5 mm:
	// shorter means the two sets show the board from one place, e.g. the
	// same images twice).
	MinBaselineM float64
	// MaxRotSpreadDeg is the largest angle between one pair's relative
	// rotation and the mean that a stereo calibration accepts (default 2°;
	// OpenCV's sample pairs spread 0.3°); MaxBaselineSpread the largest
	// std of the pairs' baselines relative to the mean (default 0.1).
	// Beyond them the images are mis-paired or a camera moved.
	MaxRotSpreadDeg   float64
	MaxBaselineSpread float64
}

func (o Options) withDefaults() Options {
	if o.MinBaselineM == 0 {
		o.MinBaselineM = 0.005
	}
	if o.MaxRotSpreadDeg == 0 {
		o.MaxRotSpreadDeg = 2
	}
	if o.MaxBaselineSpread == 0 {
		o.MaxBaselineSpread = 0.1
	}
	return o
}

// Intrinsics detects the board in each file (sorted by name) and runs
// cv::calibrateCamera on the views where it was found. At least 3 views
// are needed. Unreadable files are skipped with a warning. The board size
// is checked: when most views show a board one corner wider or taller
// than b, b is a sub-grid of the real board and the calibration is
// refused (a few such views are not: OpenCV's left12.jpg sample "shows" a
// 10x6 board on its 9x6 one).
func Intrinsics(files []string, b Board, opt Options) (*Intrinsic, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	files = append([]string(nil), files...)
	sort.Strings(files)
	var views []View
	res := &Intrinsic{}
	var bigger []string
	var biggerBoard Board
	for _, f := range files {
		v, ok, big, err := detect(f, b, true)
		if errors.Is(err, ErrUnreadable) {
			res.Unreadable = append(res.Unreadable, f)
			continue
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			res.Skipped = append(res.Skipped, f)
			continue
		}
		if big != nil {
			bigger = append(bigger, filepath.Base(f))
			biggerBoard = *big
		}
		if len(views) > 0 && v.Size != views[0].Size {
			return nil, fmt.Errorf("calib: %s is %v, the others %v: all images must come from one camera mode", f, v.Size, views[0].Size)
		}
		views = append(views, v)
		res.Used = append(res.Used, f)
	}
	if n := len(res.Unreadable); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d of %d images unreadable, skipped: %s", n, len(files), baseNames(res.Unreadable)))
	}
	if len(views) < 3 {
		return nil, fmt.Errorf("%w: board %dx%d found in %d of %d images, want at least 3", ErrInput, b.Cols, b.Rows, len(views), len(files))
	}
	if 2*len(bigger) > len(views) {
		return nil, fmt.Errorf("%w: board %dx%d: %d of %d images show a %dx%d board (%s): the given size is a sub-grid of the real board, which calibrates to a skewed result; count the inner corners again",
			ErrInput, b.Cols, b.Rows, len(bigger), len(views), biggerBoard.Cols, biggerBoard.Rows, strings.Join(bigger, ", "))
	}
	k, d, poses, rms, err := calibrate(views, b, nil, opt.Flags)
	if err != nil {
		return nil, err
	}
	if len(views) >= 4 {
		if res.HeldOutRMSPx, err = heldOut(views, b, opt.Flags); err != nil {
			return nil, err
		}
		// A held-out view that reprojects much worse than the fitted ones
		// means the fit follows its views' noise, not the lens.
		if lim := 3*rms + 0.5; res.HeldOutRMSPx > lim {
			res.Warnings = append(res.Warnings, fmt.Sprintf("held-out image %s reprojects with %.3f px rms against %.3f px fitted (limit %.3f): too few or too similar views, or a wrong board",
				filepath.Base(views[len(views)-1].File), res.HeldOutRMSPx, rms, lim))
		}
	}
	res.RMSPx, res.BoardInCam = rms, poses
	sz := views[0].Size
	res.Intrinsics = camera.Intrinsics{
		Width: sz.X, Height: sz.Y, K: k, Model: camera.PlumbBob,
		R: [9]float64{1, 0, 0, 0, 1, 0, 0, 0, 1},
		P: [12]float64{k[0], 0, k[2], 0, 0, k[4], k[5], 0, 0, 0, 1, 0},
	}
	if len(d) >= 8 {
		res.Intrinsics.Model = camera.RationalPolynomial
	}
	copy(res.Intrinsics.D[:], d)
	return res, res.Intrinsics.Validate()
}

// heldOut calibrates on all views but the last and returns the last one's
// RMS reprojection error under that calibration.
func heldOut(views []View, b Board, flags int) (float64, error) {
	n := len(views) - 1
	k, d, _, _, err := calibrate(views[:n], b, nil, flags)
	if err != nil {
		return 0, err
	}
	in := camera.Intrinsics{Width: views[0].Size.X, Height: views[0].Size.Y, K: k, Model: camera.PlumbBob}
	if len(d) >= 8 {
		in.Model = camera.RationalPolynomial
	}
	copy(in.D[:], d)
	_, rms, err := BoardPose(in, views[n], b)
	return rms, err
}

func baseNames(files []string) string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Base(f)
	}
	return strings.Join(out, ", ")
}

// OpenCV's calibration flags used here (calib3d.hpp).
const (
	flagUseIntrinsicGuess = 0x1
	flagFixPrincipalPoint = 0x4
	flagFixFocalLength    = 0x10
	flagFixK1, flagFixK2  = 0x20, 0x40
	flagFixK3             = 0x80
	flagFixK4, flagFixK5  = 0x800, 0x1000
	flagFixK6             = 0x2000
	flagRationalModel     = 0x4000
	flagFixTangentDist    = 0x200000
	// FixAll keeps every intrinsic parameter at the given values: the
	// calibration then only solves each view's pose (solvePnP).
	fixAll = flagUseIntrinsicGuess | flagFixPrincipalPoint | flagFixFocalLength | flagFixK1 | flagFixK2 | flagFixK3 | flagFixTangentDist
)

// calibrate runs cv::calibrateCamera; with guess set it starts from (and,
// with fixAll, keeps) those intrinsics.
func calibrate(views []View, b Board, guess *camera.Intrinsics, flags int) (k [9]float64, d []float64, poses []Pose, rms float64, err error) {
	obj := b.Points()
	objs := make([][]gocv.Point3f, len(views))
	imgs := make([][]gocv.Point2f, len(views))
	for i, v := range views {
		objs[i], imgs[i] = obj, v.Corners
	}
	ov := gocv.NewPoints3fVectorFromPoints(objs)
	defer ov.Close()
	iv := gocv.NewPoints2fVectorFromPoints(imgs)
	defer iv.Close()
	km := gocv.NewMatWithSize(3, 3, gocv.MatTypeCV64F)
	defer km.Close()
	nd := 5
	if guess != nil && guess.Model == camera.RationalPolynomial {
		nd = 8
		flags |= flagRationalModel | flagFixK4 | flagFixK5 | flagFixK6
	}
	dm := gocv.NewMatWithSize(1, nd, gocv.MatTypeCV64F)
	defer dm.Close()
	if guess != nil {
		for i := 0; i < 9; i++ {
			km.SetDoubleAt(i/3, i%3, guess.K[i])
		}
		for i := 0; i < nd; i++ {
			dm.SetDoubleAt(0, i, guess.D[i])
		}
	}
	rv, tv := gocv.NewMat(), gocv.NewMat()
	defer rv.Close()
	defer tv.Close()
	rms = gocv.CalibrateCamera(ov, iv, views[0].Size, &km, &dm, &rv, &tv, gocv.CalibFlag(flags))
	if math.IsNaN(rms) || km.Empty() {
		return k, nil, nil, 0, errors.New("calib: cv::calibrateCamera failed")
	}
	for i := 0; i < 9; i++ {
		k[i] = km.GetDoubleAt(i/3, i%3)
	}
	d = make([]float64, dm.Total())
	for i := range d {
		d[i] = dm.GetDoubleAt(0, i)
	}
	if rv.Total() != len(views) || tv.Total() != len(views) {
		return k, d, nil, rms, fmt.Errorf("calib: %d/%d view poses for %d views", rv.Total(), tv.Total(), len(views))
	}
	for i := range views {
		r := [3]float64{rv.GetDoubleAt(i, 0), rv.GetDoubleAt(i, 1), rv.GetDoubleAt(i, 2)}
		poses = append(poses, Pose{R: rodrigues(r), T: [3]float64{tv.GetDoubleAt(i, 0), tv.GetDoubleAt(i, 1), tv.GetDoubleAt(i, 2)}})
	}
	return k, d, poses, rms, nil
}

// BoardPose solves the board's pose in a calibrated camera's optical frame
// from one view (cv::calibrateCamera with every intrinsic fixed: a PnP
// solve with OpenCV's Levenberg–Marquardt refinement), with its RMS
// reprojection error in px.
func BoardPose(in camera.Intrinsics, v View, b Board) (Pose, float64, error) {
	if v.Size != image.Pt(in.Width, in.Height) {
		return Pose{}, 0, fmt.Errorf("calib: %s is %v, the calibration %dx%d", filepath.Base(v.File), v.Size, in.Width, in.Height)
	}
	_, _, poses, rms, err := calibrate([]View{v}, b, &in, fixAll)
	if err != nil {
		return Pose{}, 0, err
	}
	return poses[0], rms, nil
}

// rodrigues converts an axis-angle vector to a rotation matrix.
func rodrigues(r [3]float64) [3][3]float64 {
	th := math.Sqrt(r[0]*r[0] + r[1]*r[1] + r[2]*r[2])
	if th < 1e-15 {
		return [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	}
	x, y, z := r[0]/th, r[1]/th, r[2]/th
	c, s := math.Cos(th), math.Sin(th)
	C := 1 - c
	return [3][3]float64{
		{c + x*x*C, x*y*C - z*s, x*z*C + y*s},
		{y*x*C + z*s, c + y*y*C, y*z*C - x*s},
		{z*x*C - y*s, z*y*C + x*s, c + z*z*C},
	}
}

// Mul composes poses: (a·b)(p) = a(b(p)).
func (a Pose) Mul(b Pose) Pose {
	var out Pose
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				out.R[i][j] += a.R[i][k] * b.R[k][j]
			}
		}
		out.T[i] = a.T[i]
		for k := 0; k < 3; k++ {
			out.T[i] += a.R[i][k] * b.T[k]
		}
	}
	return out
}

// Inv is the inverse transform.
func (a Pose) Inv() Pose {
	var out Pose
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			out.R[i][j] = a.R[j][i]
		}
	}
	for i := 0; i < 3; i++ {
		for k := 0; k < 3; k++ {
			out.T[i] -= out.R[i][k] * a.T[k]
		}
	}
	return out
}

// Quat returns the rotation as a unit quaternion (qx, qy, qz, qw).
func (a Pose) Quat() [4]float64 {
	m := a.R
	tr := m[0][0] + m[1][1] + m[2][2]
	var x, y, z, w float64
	switch {
	case tr > 0:
		s := math.Sqrt(tr+1) * 2
		w, x, y, z = s/4, (m[2][1]-m[1][2])/s, (m[0][2]-m[2][0])/s, (m[1][0]-m[0][1])/s
	case m[0][0] > m[1][1] && m[0][0] > m[2][2]:
		s := math.Sqrt(1+m[0][0]-m[1][1]-m[2][2]) * 2
		w, x, y, z = (m[2][1]-m[1][2])/s, s/4, (m[0][1]+m[1][0])/s, (m[0][2]+m[2][0])/s
	case m[1][1] > m[2][2]:
		s := math.Sqrt(1+m[1][1]-m[0][0]-m[2][2]) * 2
		w, x, y, z = (m[0][2]-m[2][0])/s, (m[0][1]+m[1][0])/s, s/4, (m[1][2]+m[2][1])/s
	default:
		s := math.Sqrt(1+m[2][2]-m[0][0]-m[1][1]) * 2
		w, x, y, z = (m[1][0]-m[0][1])/s, (m[0][2]+m[2][0])/s, (m[1][2]+m[2][1])/s, s/4
	}
	n := math.Sqrt(x*x + y*y + z*z + w*w)
	return [4]float64{x / n, y / n, z / n, w / n}
}

// PoseFromQuat builds a pose from a position and a quaternion (qx, qy, qz,
// qw; normalised here).
func PoseFromQuat(p [3]float64, q [4]float64) (Pose, error) {
	n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	if !(n > 1e-9) {
		return Pose{}, fmt.Errorf("calib: quaternion %v, want non-zero (qx, qy, qz, qw)", q)
	}
	x, y, z, w := q[0]/n, q[1]/n, q[2]/n, q[3]/n
	return Pose{R: [3][3]float64{
		{1 - 2*(y*y+z*z), 2 * (x*y - z*w), 2 * (x*z + y*w)},
		{2 * (x*y + z*w), 1 - 2*(x*x+z*z), 2 * (y*z - x*w)},
		{2 * (x*z - y*w), 2 * (y*z + x*w), 1 - 2*(x*x+y*y)},
	}, T: p}, nil
}

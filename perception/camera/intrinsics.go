package camera

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"

	"gopkg.in/yaml.v3"
)

// Distortion models of ROS camera_info (image_geometry's names).
const (
	PlumbBob           = "plumb_bob"           // k1, k2, p1, p2, k3 (OpenCV's 5-coefficient model)
	RationalPolynomial = "rational_polynomial" // k1, k2, p1, p2, k3, k4, k5, k6
)

// Intrinsics is a camera's calibration as ROS sensor_msgs/CameraInfo holds
// it: pinhole K, lens distortion D, and the rectification R and projection P
// of a stereo-rectified setup (kept for round trips; raw frames use K and D).
type Intrinsics struct {
	Width, Height int
	// K is the 3×3 camera matrix, row-major: fx, s, cx; 0, fy, cy; 0, 0, 1 (px).
	// OpenCV's projection and undistortion ignore the skew s; so does this
	// package.
	K [9]float64
	// Model is PlumbBob or RationalPolynomial.
	Model string
	// D holds 8 coefficients k1, k2, p1, p2, k3, k4, k5, k6; the plumb_bob
	// model leaves k4..k6 zero.
	D [8]float64
	R [9]float64  // rectification matrix, row-major
	P [12]float64 // 3×4 projection matrix, row-major
}

// matrixYAML is camera_calibration_parsers' matrix block.
type matrixYAML struct {
	Rows int       `yaml:"rows"`
	Cols int       `yaml:"cols"`
	Data []float64 `yaml:"data,flow"`
}

// infoYAML is the ROS camera_info YAML file (camera_calibration_parsers).
type infoYAML struct {
	ImageWidth             *int        `yaml:"image_width"`
	ImageHeight            *int        `yaml:"image_height"`
	CameraName             string      `yaml:"camera_name,omitempty"`
	CameraMatrix           *matrixYAML `yaml:"camera_matrix"`
	DistortionModel        *string     `yaml:"distortion_model"`
	DistortionCoefficients *matrixYAML `yaml:"distortion_coefficients"`
	RectificationMatrix    *matrixYAML `yaml:"rectification_matrix"`
	ProjectionMatrix       *matrixYAML `yaml:"projection_matrix"`
}

// ParseCameraInfo reads a ROS camera_info YAML document. Every field that
// image_geometry needs must be present; the error names the first missing or
// malformed one.
func ParseCameraInfo(data []byte) (Intrinsics, string, error) {
	var y infoYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&y); err != nil {
		return Intrinsics{}, "", fmt.Errorf("camera_info: %w", err)
	}
	var in Intrinsics
	if y.ImageWidth == nil {
		return in, "", errors.New("camera_info: image_width missing")
	}
	if y.ImageHeight == nil {
		return in, "", errors.New("camera_info: image_height missing")
	}
	in.Width, in.Height = *y.ImageWidth, *y.ImageHeight
	mat := func(name string, m *matrixYAML, rows, cols int, dst []float64) error {
		if m == nil {
			return fmt.Errorf("camera_info: %s missing", name)
		}
		if m.Rows != rows || m.Cols != cols || len(m.Data) != rows*cols {
			return fmt.Errorf("camera_info: %s is %d×%d with %d values, want %d×%d", name, m.Rows, m.Cols, len(m.Data), rows, cols)
		}
		copy(dst, m.Data)
		return nil
	}
	if err := mat("camera_matrix", y.CameraMatrix, 3, 3, in.K[:]); err != nil {
		return in, "", err
	}
	if y.DistortionModel == nil {
		return in, "", errors.New("camera_info: distortion_model missing")
	}
	in.Model = *y.DistortionModel
	if y.DistortionCoefficients == nil {
		return in, "", errors.New("camera_info: distortion_coefficients missing")
	}
	dc := y.DistortionCoefficients
	want := map[string][]int{PlumbBob: {4, 5}, RationalPolynomial: {8}}[in.Model]
	if want == nil {
		return in, "", fmt.Errorf("camera_info: distortion_model %q, want %s or %s", in.Model, PlumbBob, RationalPolynomial)
	}
	n := len(dc.Data)
	okN := false
	for _, w := range want {
		okN = okN || n == w
	}
	if !okN || dc.Rows*dc.Cols != n {
		return in, "", fmt.Errorf("camera_info: distortion_coefficients has %d values (%d×%d), want %v for %s", n, dc.Rows, dc.Cols, want, in.Model)
	}
	copy(in.D[:], dc.Data)
	if err := mat("rectification_matrix", y.RectificationMatrix, 3, 3, in.R[:]); err != nil {
		return in, "", err
	}
	if err := mat("projection_matrix", y.ProjectionMatrix, 3, 4, in.P[:]); err != nil {
		return in, "", err
	}
	if err := in.Validate(); err != nil {
		return in, "", err
	}
	return in, y.CameraName, nil
}

// LoadCameraInfo reads a ROS camera_info YAML file.
func LoadCameraInfo(path string) (Intrinsics, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Intrinsics{}, "", fmt.Errorf("camera_info: %w", err)
	}
	in, name, err := ParseCameraInfo(data)
	if err != nil {
		return in, name, fmt.Errorf("%s: %w", path, err)
	}
	return in, name, nil
}

// MarshalCameraInfo writes in as a ROS camera_info YAML document.
func (in Intrinsics) MarshalCameraInfo(name string) ([]byte, error) {
	model := in.Model
	nd := 5
	if model == RationalPolynomial {
		nd = 8
	}
	y := infoYAML{
		ImageWidth: &in.Width, ImageHeight: &in.Height, CameraName: name,
		CameraMatrix:           &matrixYAML{3, 3, in.K[:]},
		DistortionModel:        &model,
		DistortionCoefficients: &matrixYAML{1, nd, in.D[:nd]},
		RectificationMatrix:    &matrixYAML{3, 3, in.R[:]},
		ProjectionMatrix:       &matrixYAML{3, 4, in.P[:]},
	}
	return yaml.Marshal(&y)
}

// Validate reports the first implausible field.
func (in Intrinsics) Validate() error {
	if in.Width <= 0 || in.Height <= 0 || in.Width > 1<<15 || in.Height > 1<<15 {
		return fmt.Errorf("camera_info: image size %d×%d, want positive and at most 32768", in.Width, in.Height)
	}
	fx, fy, cx, cy := in.K[0], in.K[4], in.K[2], in.K[5]
	if !(fx > 0 && fy > 0) || !finite(fx) || !finite(fy) || !finite(cx) || !finite(cy) {
		return fmt.Errorf("camera_info: camera_matrix fx = %v, fy = %v, cx = %v, cy = %v, want finite positive focal lengths", fx, fy, cx, cy)
	}
	if in.K[3] != 0 || in.K[6] != 0 || in.K[7] != 0 || in.K[8] != 1 {
		return fmt.Errorf("camera_info: camera_matrix %v, want [fx s cx; 0 fy cy; 0 0 1]", in.K)
	}
	for i, d := range in.D {
		if !finite(d) {
			return fmt.Errorf("camera_info: distortion_coefficients[%d] = %v, want finite", i, d)
		}
	}
	if in.Model != PlumbBob && in.Model != RationalPolynomial {
		return fmt.Errorf("camera_info: distortion_model %q, want %s or %s", in.Model, PlumbBob, RationalPolynomial)
	}
	return nil
}

// Distort maps normalized undistorted coordinates (x, y) = (X/Z, Y/Z) to
// pixels, exactly as OpenCV's projectPoints does (skew ignored).
func (in *Intrinsics) Distort(x, y float64) (u, v float64) {
	d := &in.D
	r2 := x*x + y*y
	r4 := r2 * r2
	r6 := r4 * r2
	cdist := 1 + d[0]*r2 + d[1]*r4 + d[4]*r6
	icdist2 := 1 / (1 + d[5]*r2 + d[6]*r4 + d[7]*r6)
	a1 := 2 * x * y
	a2 := r2 + 2*x*x
	a3 := r2 + 2*y*y
	xd := x*cdist*icdist2 + d[2]*a1 + d[3]*a2
	yd := y*cdist*icdist2 + d[2]*a3 + d[3]*a1
	return xd*in.K[0] + in.K[2], yd*in.K[4] + in.K[5]
}

// UndistortIterations is OpenCV's default for undistortPoints (a count-only
// criterion of 5 fixed-point iterations).
const UndistortIterations = 5

// UndistortN maps a pixel to normalized undistorted coordinates with n
// fixed-point iterations of OpenCV's undistortPoints algorithm (n =
// UndistortIterations reproduces cv::undistortPoints with its default
// criteria). Out of the image the iteration may diverge; the result is then
// inaccurate but finite.
func (in *Intrinsics) UndistortN(u, v float64, n int) (x, y float64) {
	d := &in.D
	x0 := (u - in.K[2]) / in.K[0]
	y0 := (v - in.K[5]) / in.K[4]
	x, y = x0, y0
	for j := 0; j < n; j++ {
		r2 := x*x + y*y
		icdist := (1 + ((d[7]*r2+d[6])*r2+d[5])*r2) / (1 + ((d[4]*r2+d[1])*r2+d[0])*r2)
		if icdist < 0 {
			return x0, y0
		}
		dx := 2*d[2]*x*y + d[3]*(r2+2*x*x)
		dy := d[2]*(r2+2*y*y) + 2*d[3]*x*y
		x = (x0 - dx) * icdist
		y = (y0 - dy) * icdist
	}
	return x, y
}

// Undistort maps a pixel to normalized undistorted coordinates, iterating
// until the reprojection is within 1e-9 px (Newton's method after OpenCV's
// fixed-point start); it reports false when it does not converge (a pixel
// far outside the calibrated field).
func (in *Intrinsics) Undistort(u, v float64) (x, y float64, ok bool) {
	x, y = in.UndistortN(u, v, 3)
	for it := 0; it < 20; it++ {
		pu, pv := in.Distort(x, y)
		eu, ev := pu-u, pv-v
		if eu*eu+ev*ev < 1e-18 {
			return x, y, true
		}
		// Jacobian by central differences: the map is smooth at this scale.
		const h = 1e-7
		ux1, vx1 := in.Distort(x+h, y)
		ux0, vx0 := in.Distort(x-h, y)
		uy1, vy1 := in.Distort(x, y+h)
		uy0, vy0 := in.Distort(x, y-h)
		a, b := (ux1-ux0)/(2*h), (uy1-uy0)/(2*h)
		c, d := (vx1-vx0)/(2*h), (vy1-vy0)/(2*h)
		det := a*d - b*c
		if !(math.Abs(det) > 1e-12) {
			return x, y, false
		}
		x -= (d*eu - b*ev) / det
		y -= (-c*eu + a*ev) / det
	}
	pu, pv := in.Distort(x, y)
	return x, y, math.Hypot(pu-u, pv-v) < 1e-6
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

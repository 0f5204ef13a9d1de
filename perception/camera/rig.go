package camera

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Rig is a set of calibrated cameras placed in the world frame.
type Rig struct {
	Cameras []*Camera
}

type poseYAML struct {
	Position    []float64 `yaml:"position,flow"`
	Orientation []float64 `yaml:"orientation,flow"`
}

type rigCamYAML struct {
	Name        string    `yaml:"name"`
	Calibration string    `yaml:"calibration"`
	Pose        *poseYAML `yaml:"pose"`
}

type rigYAML struct {
	Cameras []rigCamYAML `yaml:"cameras"`
}

// LoadRig reads a rig file: a list of cameras, each with a name, a ROS
// camera_info YAML file (path relative to the rig file) and the pose of its
// optical frame in the world (position m, orientation quaternion qx, qy, qz,
// qw). Unknown keys are rejected; the error names the camera and field.
func LoadRig(path string) (*Rig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	var y rigYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil {
		return nil, fmt.Errorf("rig %s: %w", path, err)
	}
	if len(y.Cameras) == 0 {
		return nil, fmt.Errorf("rig %s: cameras: none listed, want at least one", path)
	}
	rig := &Rig{}
	seen := map[string]bool{}
	for i, c := range y.Cameras {
		if c.Name == "" {
			return nil, fmt.Errorf("rig %s: cameras[%d].name missing", path, i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("rig %s: camera name %q appears twice", path, c.Name)
		}
		seen[c.Name] = true
		if c.Calibration == "" {
			return nil, fmt.Errorf("rig %s: camera %s: calibration missing (a ROS camera_info YAML file)", path, c.Name)
		}
		if c.Pose == nil {
			return nil, fmt.Errorf("rig %s: camera %s: pose missing", path, c.Name)
		}
		if len(c.Pose.Position) != 3 {
			return nil, fmt.Errorf("rig %s: camera %s: pose.position has %d values, want [x, y, z]", path, c.Name, len(c.Pose.Position))
		}
		if len(c.Pose.Orientation) != 4 {
			return nil, fmt.Errorf("rig %s: camera %s: pose.orientation has %d values, want [qx, qy, qz, qw]", path, c.Name, len(c.Pose.Orientation))
		}
		cal := c.Calibration
		if !filepath.IsAbs(cal) {
			cal = filepath.Join(filepath.Dir(path), cal)
		}
		in, _, err := LoadCameraInfo(cal)
		if err != nil {
			return nil, fmt.Errorf("rig %s: camera %s: %w", path, c.Name, err)
		}
		cam, err := New(c.Name, in, Vec(c.Pose.Position), [4]float64(c.Pose.Orientation))
		if err != nil {
			return nil, fmt.Errorf("rig %s: %w", path, err)
		}
		rig.Cameras = append(rig.Cameras, cam)
	}
	return rig, nil
}

// Save writes the rig file to path and one camera_info file per camera
// (NAME.yaml) beside it.
func (r *Rig) Save(path string) error {
	if len(r.Cameras) == 0 {
		return errors.New("rig: no cameras to save")
	}
	dir := filepath.Dir(path)
	var y rigYAML
	for _, c := range r.Cameras {
		data, err := c.MarshalCameraInfo(c.Name)
		if err != nil {
			return err
		}
		file := c.Name + ".yaml"
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
			return fmt.Errorf("rig: %w", err)
		}
		y.Cameras = append(y.Cameras, rigCamYAML{
			Name: c.Name, Calibration: file,
			Pose: &poseYAML{Position: c.Position[:], Orientation: c.Orientation[:]},
		})
	}
	data, err := yaml.Marshal(&y)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	return nil
}

// Find returns the camera with the given name, or nil.
func (r *Rig) Find(name string) *Camera {
	for _, c := range r.Cameras {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Default rig geometry. The two cameras stand behind the robot, 1 m either
// side of the rail centre and 1.7 m high, both aimed at a point 2 m out
// along the flight. From there every nominal flight stays in both views from
// release (3.9 m out) to the catch region (x 0–0.5 m, y ±0.7 m, z 0.5–1.5 m),
// and the rays meet at 30–60°, so depth is as well determined as the image
// position (≈1–2 mm per 0.1 px at 3–5 m). The lens is a wide-angle one
// (≈85° × 72°) with the mild barrel distortion such lenses have.
const (
	DefaultWidth  = 1280
	DefaultHeight = 1024
)

// DefaultIntrinsics returns the default camera's calibration; i varies the
// principal point and focal length slightly per camera, as real units do.
func DefaultIntrinsics(i int) Intrinsics {
	s := float64(i%2*2 - 1) // −1, +1
	fx, fy := 700.0+1.3*s, 699.2+0.9*s
	cx, cy := 641.7-2.1*s, 509.3+1.6*s
	in := Intrinsics{
		Width: DefaultWidth, Height: DefaultHeight,
		K:     [9]float64{fx, 0, cx, 0, fy, cy, 0, 0, 1},
		Model: PlumbBob,
		D:     [8]float64{-0.172 + 0.004*s, 0.061, 0.00042 * s, -0.00031, -0.0093},
		R:     [9]float64{1, 0, 0, 0, 1, 0, 0, 0, 1},
		P:     [12]float64{fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0},
	}
	return in
}

// DefaultRig returns the default stereo pair (see the constants above).
func DefaultRig() *Rig {
	target := Vec{2.0, 0, 0.9}
	r := &Rig{}
	for i, y := range []float64{1.0, -1.0} {
		pos := Vec{-0.9, y, 1.7}
		c, err := New(fmt.Sprintf("cam%d", i), DefaultIntrinsics(i), pos, LookAt(pos, target))
		if err != nil {
			panic(err) // the constants above are valid
		}
		r.Cameras = append(r.Cameras, c)
	}
	return r
}

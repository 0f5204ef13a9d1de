package launch

import (
	"fmt"

	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/perception/vision"
)

// CameraStreamConfig is the image stream of camera fidelity over ROS:
// `catch node simarm --fidelity camera` renders the default rig's frames
// (perception/vision.Renderer) and publishes them as sensor_msgs/Image on
// <camera>/image_raw; `catch node perception` turns them into
// /ball/observation. Full 1280×1024 frames at 125 Hz from two cameras
// (≈ 1 GB/s of pixels through TCPROS) are more than a small machine
// carries, so the images are downscaled by Scale: both nodes then use the
// default rig with its intrinsics scaled by the same factor
// (vision.ScaleRig), so the camera model matches the pixels exactly. The
// zero value means the defaults on each field.
type CameraStreamConfig struct {
	// Scale is the image size as a fraction of the rig's (1280×1024);
	// default 0.5 (640×512). 1 publishes full frames.
	Scale float64 `yaml:"scale"`
	// RateHz is the frame rate of the published images; default 0: the
	// scenario's camera rate (125 Hz nominal), frames on the same grid as
	// state fidelity's observations.
	RateHz float64 `yaml:"rate_hz"`
	// Encoding is the pixel format simarm publishes: bayer_rggb8 (default:
	// the raw colour-filter mosaic an industrial colour camera streams, one
	// byte per pixel, which the perception node demosaics) or bgr8 (three
	// bytes per pixel: three times the copying in both nodes).
	Encoding string `yaml:"encoding"`
	// DetectorDownscale is the perception node's full-frame search stride
	// (vision.DetectorConfig.Downscale); default 2 (the ball's image is
	// ≈ 2.5 px in radius at release in half-size frames).
	DetectorDownscale int `yaml:"detector_downscale"`
}

// WithDefaults returns c with zero fields set.
func (c CameraStreamConfig) WithDefaults() CameraStreamConfig {
	if c.Scale == 0 {
		c.Scale = 0.5
	}
	if c.DetectorDownscale == 0 {
		c.DetectorDownscale = 2
	}
	if c.Encoding == "" {
		c.Encoding = "bayer_rggb8"
	}
	return c
}

// Validate reports the first bad field.
func (c CameraStreamConfig) Validate() error {
	c = c.WithDefaults()
	if !(c.Scale >= 0.1 && c.Scale <= 1) {
		return fmt.Errorf("scale = %v: want [0.1, 1]", c.Scale)
	}
	if !(c.RateHz >= 0 && c.RateHz <= 1000) {
		return fmt.Errorf("rate_hz = %v: want 0 (the scenario's camera rate) or (0, 1000]", c.RateHz)
	}
	if c.DetectorDownscale < 1 || c.DetectorDownscale > 8 {
		return fmt.Errorf("detector_downscale = %d: want 1..8", c.DetectorDownscale)
	}
	if c.Encoding != "bayer_rggb8" && c.Encoding != "bgr8" {
		return fmt.Errorf("encoding = %q: want bayer_rggb8 or bgr8", c.Encoding)
	}
	return nil
}

// Rig is the camera model of the stream: base (nil: camera.DefaultRig())
// scaled by Scale.
func (c CameraStreamConfig) Rig(base *camera.Rig) (*camera.Rig, error) {
	c = c.WithDefaults()
	if base == nil {
		base = camera.DefaultRig()
	}
	return vision.ScaleRig(base, c.Scale)
}

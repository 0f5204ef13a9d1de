package vision

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/perception/camera"
)

// ScaleRig returns a copy of rig whose cameras see the same scene at s times
// the resolution: width and height scaled (rounded), and the pinhole K and
// projection P scaled about the pixel-corner origin so that a point projects
// to s times its full-resolution pixel coordinate (pixel-centre convention:
// u' = (u+0.5)·s − 0.5). The distortion acts on normalised coordinates and
// stays. A renderer and a tracker built on the same scaled rig agree
// exactly; this is how downscaled camera images (camera fidelity over ROS)
// keep a matching camera model. s = 1 returns rig itself.
func ScaleRig(rig *camera.Rig, s float64) (*camera.Rig, error) {
	if !(s > 0 && s <= 1) {
		return nil, fmt.Errorf("scale rig: factor %v, want (0, 1]", s)
	}
	if s == 1 {
		return rig, nil
	}
	out := &camera.Rig{}
	for _, c := range rig.Cameras {
		in := c.Intrinsics
		in.Width = int(math.Round(float64(in.Width) * s))
		in.Height = int(math.Round(float64(in.Height) * s))
		in.K[0] *= s
		in.K[1] *= s
		in.K[2] = (in.K[2]+0.5)*s - 0.5
		in.K[4] *= s
		in.K[5] = (in.K[5]+0.5)*s - 0.5
		// P: rows 0 and 1 (fx, s, cx, Tx; 0, fy, cy, Ty) with the same
		// pixel-centre shift on cx, cy (w = P[10] is 1 for a camera frame).
		w := in.P[10]
		for j := 0; j < 4; j++ {
			in.P[j] *= s
			in.P[4+j] *= s
		}
		in.P[2] += (s - 1) * 0.5 * w
		in.P[6] += (s - 1) * 0.5 * w
		nc, err := camera.New(c.Name, in, c.Position, c.Orientation)
		if err != nil {
			return nil, fmt.Errorf("scale rig: %w", err)
		}
		out.Cameras = append(out.Cameras, nc)
	}
	return out, nil
}

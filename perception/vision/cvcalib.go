package vision

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "cvcalib.h"
*/
import "C"

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/perception/camera"
)

// ProjectPointsCV projects world points into cam's image with OpenCV's
// cv::projectPoints (gocv v0.31 does not wrap it). It is the reference the
// pure-Go camera model is tested against, and is not meant for hot paths.
func ProjectPointsCV(cam *camera.Camera, pts []camera.Vec) ([][2]float64, error) {
	if len(pts) == 0 {
		return nil, nil
	}
	// world→camera: R_cw = R_wcᵀ, t = −R_cw·C; Rodrigues vector from it.
	var rcw [3][3]float64
	for j := 0; j < 3; j++ {
		col := cam.DirToWorld(camera.Vec{b2f(j == 0), b2f(j == 1), b2f(j == 2)})
		for i := 0; i < 3; i++ {
			rcw[j][i] = col[i]
		}
	}
	rvec := rodrigues(rcw)
	t := cam.ToCamera(camera.Vec{})
	xyz := make([]float64, 3*len(pts))
	for i, p := range pts {
		copy(xyz[3*i:], p[:])
	}
	uv := make([]float64, 2*len(pts))
	nd, d := coeffs(cam.Intrinsics)
	rc := C.catch_project_points((*C.double)(&xyz[0]), C.int(len(pts)), (*C.double)(&rvec[0]), (*C.double)(&t[0]),
		(*C.double)(&cam.K[0]), (*C.double)(&d[0]), C.int(nd), (*C.double)(&uv[0]))
	if rc != 0 {
		return nil, fmt.Errorf("vision: cv::projectPoints failed (%d)", int(rc))
	}
	out := make([][2]float64, len(pts))
	for i := range out {
		out[i] = [2]float64{uv[2*i], uv[2*i+1]}
	}
	return out, nil
}

// UndistortPointsCV runs cv::undistortPoints on pixels with maxCount
// iterations (and, with eps > 0, an EPS criterion), returning normalized
// coordinates.
func UndistortPointsCV(in camera.Intrinsics, px [][2]float64, maxCount int, eps float64) ([][2]float64, error) {
	if len(px) == 0 {
		return nil, nil
	}
	uv := make([]float64, 2*len(px))
	for i, p := range px {
		uv[2*i], uv[2*i+1] = p[0], p[1]
	}
	xy := make([]float64, 2*len(px))
	nd, d := coeffs(in)
	rc := C.catch_undistort_points((*C.double)(&uv[0]), C.int(len(px)), (*C.double)(&in.K[0]), (*C.double)(&d[0]), C.int(nd),
		C.int(maxCount), C.double(eps), (*C.double)(&xy[0]))
	if rc != 0 {
		return nil, fmt.Errorf("vision: cv::undistortPoints failed (%d)", int(rc))
	}
	out := make([][2]float64, len(px))
	for i := range out {
		out[i] = [2]float64{xy[2*i], xy[2*i+1]}
	}
	return out, nil
}

func coeffs(in camera.Intrinsics) (int, []float64) {
	if in.Model == camera.RationalPolynomial {
		return 8, in.D[:]
	}
	return 5, in.D[:5]
}

// rodrigues converts a rotation matrix to an axis-angle vector.
func rodrigues(r [3][3]float64) [3]float64 {
	c := (r[0][0] + r[1][1] + r[2][2] - 1) / 2
	c = max(-1, min(1, c))
	th := math.Acos(c)
	if th < 1e-12 {
		return [3]float64{}
	}
	s := 2 * math.Sin(th)
	if s < 1e-9 {
		// θ ≈ π: axis from the diagonal.
		ax := [3]float64{math.Sqrt(max(0, (r[0][0]+1)/2)), math.Sqrt(max(0, (r[1][1]+1)/2)), math.Sqrt(max(0, (r[2][2]+1)/2))}
		if r[0][1] < 0 {
			ax[1] = -ax[1]
		}
		if r[0][2] < 0 {
			ax[2] = -ax[2]
		}
		return [3]float64{ax[0] * th, ax[1] * th, ax[2] * th}
	}
	return [3]float64{(r[2][1] - r[1][2]) / s * th, (r[0][2] - r[2][0]) / s * th, (r[1][0] - r[0][1]) / s * th}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// SetOpenCVThreads sets the number of threads OpenCV's parallel loops use
// (cv::setNumThreads; 0 or 1 runs them on the calling thread). The
// perception benchmarks run with 1 so that they measure one core.
func SetOpenCVThreads(n int) { C.catch_set_num_threads(C.int(n)) }

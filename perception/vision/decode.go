package vision

import (
	"errors"
	"fmt"

	"gocv.io/x/gocv"
)

// Decode decodes an encoded image (any format OpenCV's imgcodecs reads: PNG, JPEG, ...) into
// an 8-bit, 3-channel BGR Mat, which the caller must Close. Grey or alpha inputs are converted
// to BGR.
func Decode(data []byte) (gocv.Mat, error) {
	if len(data) == 0 {
		return gocv.NewMat(), errors.New("vision: decode: empty input, want an encoded image")
	}
	m, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil {
		m.Close()
		return gocv.NewMat(), fmt.Errorf("vision: decode %d bytes: %w", len(data), err)
	}
	if m.Empty() {
		m.Close()
		return gocv.NewMat(), fmt.Errorf("vision: decode %d bytes: not an image format OpenCV reads", len(data))
	}
	return m, nil
}

// BGRToHSV converts an 8-bit BGR image into dst as 8-bit HSV (H in [0, 180), S and V in
// [0, 255]). dst is reallocated by OpenCV only when its size or type differ, so a caller that
// reuses dst across frames of one size converts without allocating.
func BGRToHSV(src gocv.Mat, dst *gocv.Mat) error {
	if src.Empty() {
		return errors.New("vision: BGR to HSV: empty source image")
	}
	if t := src.Type(); t != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("vision: BGR to HSV: source type %v, want 8-bit 3-channel BGR (CV_8UC3)", t)
	}
	gocv.CvtColor(src, dst, gocv.ColorBGRToHSV)
	return nil
}

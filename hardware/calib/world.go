package calib

import (
	"fmt"

	"github.com/agilecatch/catch/perception/camera"
)

// World is a camera's pose in the world frame, found from one image of a
// board whose pose in the world was measured.
type World struct {
	// CamInWorld maps the optical frame to the world: its translation is the
	// optical centre (camera.Camera.Position), its rotation the orientation
	// (camera.Camera.Orientation, as Quat()).
	CamInWorld Pose
	RMSPx      float64
}

// WorldPose solves a calibrated camera's pose in the world from an image
// of the board, given the board's pose in the world (its origin at the
// first inner corner, x along the rows of corners, y down the columns, z
// into the board's back).
func WorldPose(in camera.Intrinsics, file string, b Board, boardInWorld Pose) (*World, error) {
	v, ok, err := Detect(file, b)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("calib: board %dx%d not found in %s", b.Cols, b.Rows, file)
	}
	boardInCam, rms, err := BoardPose(in, v, b)
	if err != nil {
		return nil, err
	}
	return &World{CamInWorld: boardInWorld.Mul(boardInCam.Inv()), RMSPx: rms}, nil
}

// Camera builds the placed camera (for a rig file).
func (w *World) Camera(name string, in camera.Intrinsics) (*camera.Camera, error) {
	return camera.New(name, in, w.CamInWorld.T, w.CamInWorld.Quat())
}

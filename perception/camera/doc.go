// Package camera is the geometry of perception: calibrated cameras (pinhole
// plus plumb_bob or rational_polynomial lens distortion, read from ROS
// camera_info YAML), rigs that place them in the world, projection,
// undistortion and triangulation. It is pure Go, so controllers and the
// simulator may import it without OpenCV.
//
// Conventions: world frame as in docs/architecture.md §4 (x toward the thrower, z up),
// metres and seconds; each camera's optical frame has z along the optical
// axis, x right and y down in the image; pixel (0, 0) is the centre of the
// top-left pixel (OpenCV's convention). Projection and undistortion follow
// OpenCV's projectPoints and undistortPoints exactly (the tests compare them
// with OpenCV through gocv, in package vision).
//
// A Camera is immutable after New and safe for concurrent use. Triangulate
// does not allocate.
package camera

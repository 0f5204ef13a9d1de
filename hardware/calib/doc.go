// Package calib calibrates cameras from chessboard images with OpenCV (gocv): intrinsics
// (pinhole K and plumb_bob distortion, written as ROS camera_info YAML), the relative pose of
// a stereo pair, and a camera's pose in the world from a board at a measured world pose —
// everything a rig file (perception/camera.Rig) needs.
//
// In: image files (any format OpenCV reads), the board's inner-corner count (columns × rows,
// e.g. 9x6) and square size in m. Out: camera.Intrinsics, poses in m and unit quaternions
// (qx, qy, qz, qw), reprojection errors in px. Calls are synchronous and not for hot paths.
package calib

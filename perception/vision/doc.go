// Package vision is the OpenCV adapter of perception: it is where gocv (cgo, OpenCV 4.6 from
// Debian's libopencv-dev, installed by `make deps`) is used, so that the rest of perception and
// everything that plans builds and tests without OpenCV (docs/architecture.md §3).
//
// In: encoded frames (PNG, JPEG; a ROS sensor_msgs/CompressedImage payload) or raw BGR frames
// from a camera driver. Out: gocv.Mat images in OpenCV's conventions: 8-bit BGR channel order,
// and for HSV the 8-bit ranges H in [0, 180) (degrees / 2), S and V in [0, 255].
//
// The detector's cues: colour (HSV), motion (a background model at a stride), shape and size
// (fill of the enclosing circle, radius against the triangulated depth), and a learned
// classifier: each candidate's crop (BallCrop) is scored by a small CNN (package
// perception/ballnet, shipped as perception/models/ball.onnx and reproduced by `catch train
// detector --seed 1 --out perception/models/ball.onnx` from crops rendered over the training
// photographs only, TrainingCrops) run through ONNX Runtime (forecast/ort, one thread);
// candidates are ranked by score (DetectorConfig.MinScore, when set, drops the low ones). The
// tracker adds stereo epipolar consistency and the ballistic test of a flight.
//
// Mats own C memory: whoever receives a Mat from this package closes it. The functions here
// hold no state and may be called from any goroutine; a Mat itself must not be shared between
// goroutines while one of them writes it.
package vision

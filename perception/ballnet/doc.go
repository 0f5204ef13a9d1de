// Package ballnet is the detector's learned candidate classifier: a small
// convolutional network that scores an image crop around a ball-coloured
// blob as the ball (1) or something else of its colour (0): an orange, a
// logo, a shirt's fold, a cone, wallpaper (docs/architecture.md §8, the
// detector's cues).
//
// # What flows in and out
//
// In: crops of Size×Size pixels, BGR, resampled from a square of side
// CropScale blob radii centred on the blob, scaled to [−0.5, 0.5]
// (value/255 − 0.5), planar (NCHW: all blue values, then green, then
// red). Out: one logit per crop; the ONNX export ends in a sigmoid and
// outputs the probability.
//
// The network is conv 3×3 stride 2 (3→C1) · SiLU · conv 3×3 stride 2
// (C1→C2) · SiLU · flatten · linear → 1. It is trained here, in Go, by
// Adam on a binary cross-entropy ([Train]); [Net.ONNX] writes it in the
// ONNX layout that forecast/ort runs (float32, batch dimension fixed by the
// caller's session). Training is single-threaded and seeded, so the same
// crops and seed give the same bytes.
//
// The crops come from package perception/vision (renders over the
// training photographs only); the detector there runs the exported model
// through ONNX Runtime. This package is pure Go.
package ballnet

// Package models ships the perception's learned models in the binary.
//
// ball.onnx is the detector's candidate classifier (package
// perception/ballnet; perception/vision runs it through ONNX Runtime).
// It is reproduced bit for bit by
//
//	catch train detector --seed 1 --out perception/models/ball.onnx
//
// which renders crops over the training photographs and the generated
// scene only (vision.BackgroundSet("train"), never "heldout"); the command,
// the seed and the crop counts are in the file's metadata
// (ballnet.MetaKey).
package models

import _ "embed"

// Ball is ball.onnx.
//
//go:embed ball.onnx
var Ball []byte

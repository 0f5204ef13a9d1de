// Package ort is the ONNX Runtime adapter of forecast: it runs exported models (the
// interpolant drift network, the distilled flow map) through ONNX Runtime's C library via
// onnxruntime_go. It is one of the two places with cgo (docs/architecture.md §3); the rest of forecast
// builds and tests without it.
//
// # The shared library
//
// ONNX Runtime is loaded at run time, once per process, by [Init]. Init("") looks for it in
// this order and uses the first that exists:
//
//  1. the file named by the environment variable ONNXRUNTIME_LIB (the Makefile exports it;
//     when it is set but the file is missing, Init fails rather than guess);
//  2. .deps/onnxruntime/lib/libonnxruntime.so in the working directory or any directory
//     above it, or above the running executable (where `make deps` puts it: scripts/deps.sh
//     unpacks the CPU build from the npm package onnxruntime-node, version 1.24.x, whose C
//     API version 24 is the one onnxruntime_go v1.27.0 is built against);
//  3. libonnxruntime.so in /usr/local/lib, /usr/lib/x86_64-linux-gnu, /usr/lib/aarch64-linux-gnu
//     and /usr/lib.
//
// # Sessions
//
// A [Session] is set up once (model bytes, the names and shapes of its float32 inputs and
// outputs) and then run many times: the caller writes into the slices returned by
// [Session.Input], calls [Session.Run], and reads [Session.Output]. Only setup allocates; Run
// reuses the tensors bound at setup. A Session is not safe for concurrent use: one goroutine
// (the forecaster's worker) owns it. Units and layout of the tensors are the model's, row-major.
package ort

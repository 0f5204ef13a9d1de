// Package cputime reads the calling OS thread's CPU time, the clock the
// project's step and frame timings use (docs/architecture.md §8): on a
// shared machine the wall clock also counts the time other processes held
// the core, the thread clock does not. Lock the goroutine to its thread
// (runtime.LockOSThread) for differences to mean anything.
package cputime

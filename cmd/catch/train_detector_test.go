package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/perception/ballnet"
)

// TestTrainDetectorReproduces: a small run of `catch train detector`
// writes the same bytes twice (renders, crops and training are seeded and
// single-threaded), a model whose record names its command; bad input
// exits 2.
func TestTrainDetectorReproduces(t *testing.T) {
	dir := t.TempDir()
	var files [2][]byte
	for i := range files {
		out := filepath.Join(dir, []string{"a.onnx", "b.onnx"}[i])
		code, text := runOut(t, "train", "detector", "--seed", "3", "--frames", "1", "--epochs", "2", "--heldout-frames", "0", "--out", out)
		require.Equal(t, 0, code, text)
		var err error
		files[i], err = os.ReadFile(out)
		require.NoError(t, err)
	}
	require.True(t, bytes.Equal(files[0], files[1]), "two runs of the same command differ")
	meta, err := ballnet.Meta(files[0])
	require.NoError(t, err)
	require.Contains(t, meta, "catch train detector --seed 3 --frames 1")
	for _, args := range [][]string{
		{"train", "detector", "--out", filepath.Join(dir, "x.txt")},
		{"train", "detector", "--frames", "0", "--out", filepath.Join(dir, "x.onnx")},
		{"train", "detector", "--lr", "5", "--out", filepath.Join(dir, "x.onnx")},
	} {
		code, _ := runOut(t, args...)
		require.Equal(t, 2, code, strings.Join(args, " "))
	}
}

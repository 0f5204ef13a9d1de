package main

import (
	"encoding/binary"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A 2×1 XWD of the layout Xvfb writes (32 bpp, LSB first, masks
// 0xff0000, 0xff00, 0xff) converts to the same colours.
func TestConvertXvfbLayout(t *testing.T) {
	h := make([]uint32, 25)
	h[0], h[1], h[2], h[3] = 100, 7, 2, 24
	h[4], h[5] = 2, 1
	h[7], h[11], h[12] = 0, 32, 8
	h[14], h[15], h[16] = 0xff0000, 0xff00, 0xff
	var data []byte
	for _, v := range h {
		data = binary.BigEndian.AppendUint32(data, v)
	}
	data = append(data, 10, 20, 30, 0, 200, 100, 50, 0) // B, G, R, X per pixel
	dir := t.TempDir()
	in, out := filepath.Join(dir, "a.xwd"), filepath.Join(dir, "a.png")
	require.NoError(t, os.WriteFile(in, data, 0o644))
	require.NoError(t, convert(in, out))
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, color.RGBA{30, 20, 10, 255}, color.RGBAModel.Convert(img.At(0, 0)))
	require.Equal(t, color.RGBA{50, 100, 200, 255}, color.RGBAModel.Convert(img.At(1, 0)))

	require.NoError(t, os.WriteFile(in, data[:50], 0o644))
	require.ErrorContains(t, convert(in, out), "too short")
}

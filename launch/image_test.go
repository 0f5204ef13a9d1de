package launch

import (
	"image"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/hardware/ros"
)

// A BGR scene mosaicked the way simarm streams it (bayer_rggb8) comes back
// from toBGR with the scene's colours inside flat patches; read as the
// opposite pattern (bayer_bggr8) red and blue swap, so the code mapping
// matters.
func TestBayerRoundTrip(t *testing.T) {
	const w, h = 64, 48
	colours := [4][3]byte{{0, 0, 220}, {0, 200, 0}, {230, 0, 0}, {40, 220, 230}} // BGR: red, green, blue, yellow
	bgr := make([]byte, 3*w*h)
	patch := func(x, y int) int { return 2*(y*2/h) + x*2/w }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			copy(bgr[3*(y*w+x):], colours[patch(x, y)][:])
		}
	}
	mosaic := make([]byte, w*h)
	mosaicRGGB(bgr, w, image.Rect(0, 0, w, h), mosaic)
	require.Equal(t, bgr[3*0+2], mosaic[0], "(0,0) is red")
	require.Equal(t, bgr[3*1+1], mosaic[1], "(1,0) is green")
	require.Equal(t, bgr[3*(w+1)+0], mosaic[w+1], "(1,1) is blue")

	dst := gocv.NewMat()
	defer dst.Close()
	for _, enc := range []string{"bayer_rggb8", "bayer_bggr8"} {
		require.NoError(t, toBGR(&ros.Image{Width: w, Height: h, Encoding: enc, Step: w, Data: mosaic}, &dst))
		require.Equal(t, h, dst.Rows())
		require.Equal(t, w, dst.Cols())
		out, err := dst.DataPtrUint8()
		require.NoError(t, err)
		for _, c := range []image.Point{{w / 4, h / 4}, {3 * w / 4, h / 4}, {w / 4, 3 * h / 4}, {3 * w / 4, 3 * h / 4}} {
			want := colours[patch(c.X, c.Y)]
			got := out[3*(c.Y*w+c.X) : 3*(c.Y*w+c.X)+3]
			if enc == "bayer_bggr8" {
				want[0], want[2] = want[2], want[0]
			}
			for k := 0; k < 3; k++ {
				require.InDelta(t, float64(want[k]), float64(got[k]), 2, "%s at %v channel %d", enc, c, k)
			}
		}
	}
}

func TestToBGRBadImages(t *testing.T) {
	dst := gocv.NewMat()
	defer dst.Close()
	for _, img := range []ros.Image{
		{Width: 4, Height: 4, Encoding: "yuv422", Step: 8, Data: make([]byte, 32)},
		{Width: 4, Height: 4, Encoding: "bayer_rggb8", Step: 4, Data: make([]byte, 15)},
		{Width: 4, Height: 4, Encoding: "bgr8", Step: 12, Data: make([]byte, 16)},
		{Width: 0, Height: 4, Encoding: "mono8", Step: 0, Data: nil},
		{Width: 4, Height: 4, Encoding: "mono8", Step: 3, Data: make([]byte, 16)},
	} {
		require.Error(t, toBGR(&img, &dst), "%+v", img)
	}
}

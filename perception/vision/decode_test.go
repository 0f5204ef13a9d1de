package vision

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// hsv8 is OpenCV's 8-bit BGR→HSV, computed independently in Go: V = max, S = 255·(V−min)/V,
// H = hue in degrees / 2.
func hsv8(r, g, b uint8) (h, s, v float64) {
	R, G, B := float64(r), float64(g), float64(b)
	mx := max(R, G, B)
	mn := min(R, G, B)
	v = mx
	if mx > 0 {
		s = 255 * (mx - mn) / mx
	}
	if mx == mn {
		return 0, s, v
	}
	var deg float64
	switch mx {
	case R:
		deg = 60 * (G - B) / (mx - mn)
	case G:
		deg = 120 + 60*(B-R)/(mx-mn)
	default:
		deg = 240 + 60*(R-G)/(mx-mn)
	}
	if deg < 0 {
		deg += 360
	}
	return deg / 2, s, v
}

// testImage is a seeded random RGB image plus a few fixed colours (primaries, grey, black).
func testImage(w, h int) *image.RGBA {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
		}
	}
	fixed := []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {128, 128, 128, 255}, {0, 0, 0, 255}, {255, 140, 0, 255}}
	for i, c := range fixed {
		img.SetRGBA(i, 0, c)
	}
	return img
}

func TestDecodePNGAndConvertToHSV(t *testing.T) {
	const w, h = 17, 9 // odd sizes catch stride mistakes
	img := testImage(w, h)
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))

	bgr, err := Decode(buf.Bytes())
	require.NoError(t, err)
	defer bgr.Close()
	require.Equal(t, h, bgr.Rows())
	require.Equal(t, w, bgr.Cols())
	require.Equal(t, gocv.MatTypeCV8UC3, bgr.Type())

	hsv := gocv.NewMat()
	defer hsv.Close()
	require.NoError(t, BGRToHSV(bgr, &hsv))
	require.Equal(t, gocv.MatTypeCV8UC3, hsv.Type())

	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := img.RGBAAt(x, y)
			// PNG is lossless: the decoded pixel is the encoded one, in BGR order.
			px := bgr.GetVecbAt(y, x)
			require.Equal(t, [3]uint8{c.B, c.G, c.R}, [3]uint8{px[0], px[1], px[2]}, "BGR at (%d,%d)", x, y)

			wantH, wantS, wantV := hsv8(c.R, c.G, c.B)
			got := hsv.GetVecbAt(y, x)
			// OpenCV rounds in fixed point: allow 1 count on each channel; hue wraps at 180.
			dh := float64(got[0]) - wantH
			if dh > 90 {
				dh -= 180
			} else if dh < -90 {
				dh += 180
			}
			require.InDelta(t, 0, dh, 1, "H at (%d,%d) for RGB %v: got %d want %.2f", x, y, c, got[0], wantH)
			require.InDelta(t, wantS, float64(got[1]), 1, "S at (%d,%d) for RGB %v", x, y, c)
			require.InDelta(t, wantV, float64(got[2]), 1, "V at (%d,%d) for RGB %v", x, y, c)
		}
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not image": []byte("definitely not a PNG"),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := Decode(data)
			defer m.Close()
			require.Error(t, err)
		})
	}

	grey := gocv.NewMatWithSize(4, 4, gocv.MatTypeCV8UC1)
	defer grey.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	require.ErrorContains(t, BGRToHSV(grey, &dst), "CV_8UC3")
}

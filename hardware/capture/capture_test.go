package capture

import (
	"image"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// writeVideo writes n frames at fps (MJPEG AVI, OpenCV's built-in codec),
// each frame's brightness its index.
func writeVideo(t *testing.T, path string, fps float64, n int) {
	w, err := gocv.VideoWriterFile(path, "MJPG", fps, 64, 48, true)
	require.NoError(t, err)
	require.True(t, w.IsOpened())
	for i := 0; i < n; i++ {
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(i*10), 0, 0, 0), 48, 64, gocv.MatTypeCV8UC3)
		gocv.PutText(&m, "x", image.Pt(5, 20), gocv.FontHersheyPlain, 1, color.RGBA{255, 255, 255, 0}, 1)
		require.NoError(t, w.Write(m))
		m.Close()
	}
	require.NoError(t, w.Close())
}

func TestGaps(t *testing.T) {
	for _, tc := range []struct {
		prev, t float64
		want    int
	}{{math.NaN(), 1, 0}, {0, 0.008, 0}, {0, 0.011, 0}, {0, 0.016, 1}, {0, 0.040, 4}} {
		require.Equal(t, tc.want, Gaps(tc.prev, tc.t, 0.008), "%v→%v", tc.prev, tc.t)
	}
}

// TestFileStampsSyncDrops reads real video files through VideoCapture: the
// frames carry the file's times; read at a nominal rate twice the file's,
// every other frame counts as dropped; a 20 fps and a 10 fps camera are
// matched by stamp, the 20 fps one's in-between frames discarded.
func TestFileStampsSyncDrops(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.avi"), filepath.Join(dir, "b.avi")
	writeVideo(t, a, 20, 20)
	writeVideo(t, b, 10, 10)

	c, err := Open("a", a, Config{})
	require.NoError(t, err)
	m := gocv.NewMat()
	defer m.Close()
	var ts []float64
	for {
		f, err := c.Read(&m)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.True(t, f.Driver)
		ts = append(ts, f.T)
	}
	require.NoError(t, c.Close())
	require.Len(t, ts, 20)
	for i, tt := range ts {
		require.InDelta(t, float64(i)/20, tt, 1e-6, "frame %d", i)
	}
	require.Zero(t, c.Dropped())

	fast, err := Open("a", a, Config{FPS: 40})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		_, err := fast.Read(&m)
		require.NoError(t, err)
	}
	require.Equal(t, 4, fast.Dropped(), "a 40 fps camera delivering 20 fps drops every other frame")
	require.NoError(t, fast.Close())

	ca, err := Open("a", a, Config{})
	require.NoError(t, err)
	cb, err := Open("b", b, Config{})
	require.NoError(t, err)
	s := &Sync{Cams: []*Camera{ca, cb}, Tol: 0.01}
	mats := []gocv.Mat{gocv.NewMat(), gocv.NewMat()}
	defer mats[0].Close()
	defer mats[1].Close()
	for k := 0; k < 5; k++ {
		fr, err := s.Read(mats)
		require.NoError(t, err)
		require.InDelta(t, fr[0].T, fr[1].T, 0.01)
		require.InDelta(t, float64(k)/10, fr[1].T, 1e-6)
	}
	require.Equal(t, 4, s.Dropped, "the 20 fps camera's frames between the 10 fps ones")
	require.NoError(t, ca.Close())
	require.NoError(t, cb.Close())
}

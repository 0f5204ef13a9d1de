package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"
)

// TestRenderTrack renders one nominal throw and tracks it back, then feeds
// the track command bad inputs.
func TestRenderTrack(t *testing.T) {
	dir := t.TempDir()
	code, out := runOut(t, "render", "--scenario", "nominal", "--throws", "1", "--seed", "5", "--out", dir)
	require.Equal(t, 0, code, out)
	for _, f := range []string{"cameras.yaml", "cam0.yaml", "cam1.yaml", "cam0.avi", "cam1.avi", "truth.csv"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	truth, err := os.ReadFile(filepath.Join(dir, "truth.csv"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(truth), "t,x,y,z\n"))

	rig := filepath.Join(dir, "cameras.yaml")
	c0, c1 := filepath.Join(dir, "cam0.avi"), filepath.Join(dir, "cam1.avi")
	track := filepath.Join(dir, "track.csv")
	code, out = runOut(t, "track", "--cameras", rig, "--video", "cam0="+c0, "--video", "cam1="+c1,
		"--out", track, "--truth", filepath.Join(dir, "truth.csv"), "--json")
	require.Equal(t, 0, code, out)
	var sum trackSummary
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	require.NotNil(t, sum.Truth)
	// The acceptance bounds on one throw (MJPEG frames).
	require.GreaterOrEqual(t, sum.Truth.DetectionRate, 0.99)
	require.Less(t, sum.Truth.ErrMedianMM, 5.0)
	require.Less(t, sum.Truth.ErrP95MM, 15.0)
	require.Zero(t, sum.Truth.FalseDetections)
	require.Empty(t, sum.Warnings)
	csv, err := os.ReadFile(track)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	require.Equal(t, "t,x,y,z,cam0_u,cam0_v,cam1_u,cam1_v,reproj_px,est_valid,est_x,est_y,est_z,est_vx,est_vy,est_vz", lines[0])
	require.Len(t, lines, sum.Triangulated+1)
	require.Less(t, sum.EpipolarMedianPx, 0.5, "matching videos fit the rig")
	require.Equal(t, 30, sum.EpipolarFrames)

	// Swapped or duplicated camera videos do not fit the rig: refused with
	// exit 2 (the old code reported 25–53% false 3-D points with exit 0). A
	// truncated video is an error, exit 1 (the old code stopped at frame 13
	// of 140 with exit 0).
	trunc := filepath.Join(dir, "trunc.avi")
	full, err := os.ReadFile(c1)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(trunc, full[:len(full)/10], 0o644))
	for _, tc := range []struct {
		name   string
		v0, v1 string
		code   int
		want   string
	}{
		{"swapped", c1, c0, 2, "do not fit the rig"},
		{"duplicated", c0, c0, 2, "do not fit the rig"},
		{"truncated", c0, trunc, 1, "corrupt or truncated"},
	} {
		code, stderr := runErr(t, "track", "--cameras", rig, "--video", "cam0="+tc.v0, "--video", "cam1="+tc.v1, "--out", track)
		require.Equal(t, tc.code, code, "%s: %s", tc.name, stderr)
		require.Contains(t, stderr, tc.want, tc.name)
	}

	// Truth is matched by timestamp, not by row: a truth file missing its
	// first 30 rows scores the frames it covers just as well and says how
	// many frames it left out; one whose times match no frame is refused.
	rows := strings.Split(strings.TrimSpace(string(truth)), "\n")
	late := filepath.Join(dir, "late.csv")
	require.NoError(t, os.WriteFile(late, []byte(rows[0]+"\n"+strings.Join(rows[31:], "\n")+"\n"), 0o644))
	code, out = runOut(t, "track", "--cameras", rig, "--video", "cam0="+c0, "--video", "cam1="+c1,
		"--out", track, "--truth", late, "--json")
	require.Equal(t, 0, code, out)
	var lateSum trackSummary
	require.NoError(t, json.Unmarshal([]byte(out), &lateSum))
	require.GreaterOrEqual(t, lateSum.Truth.DetectionRate, 0.99)
	require.Greater(t, lateSum.Truth.Detected, sum.Truth.Detected-30)
	require.Zero(t, lateSum.Truth.FalseDetections)
	require.Less(t, lateSum.Truth.ErrMedianMM, 5.0)
	require.Contains(t, strings.Join(lateSum.Warnings, "; "), "30 of ")
	shifted := filepath.Join(dir, "shifted.csv")
	var sb strings.Builder
	sb.WriteString(rows[0] + "\n")
	for i, r := range rows[1:] {
		_, rest, _ := strings.Cut(r, ",")
		fmt.Fprintf(&sb, "%.6f,%s\n", 100+float64(i)/125, rest)
	}
	require.NoError(t, os.WriteFile(shifted, []byte(sb.String()), 0o644))
	code, out = runErr(t, "track", "--cameras", rig, "--video", "cam0="+c0, "--video", "cam1="+c1,
		"--out", track, "--truth", shifted)
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "no frame timestamp")

	// A camera that never sees the ball, with a shorter video: reported
	// gaps and a length warning, not a crash.
	blank := filepath.Join(dir, "blank.avi")
	vw, err := gocv.VideoWriterFile(blank, "MJPG", 125, 1280, 1024, true)
	require.NoError(t, err)
	bm := gocv.NewMatWithSize(1024, 1280, gocv.MatTypeCV8UC3)
	for i := 0; i < 40; i++ {
		require.NoError(t, vw.Write(bm))
	}
	require.NoError(t, vw.Close())
	bm.Close()
	code, out = runOut(t, "track", "--cameras", rig, "--video", "cam0="+c0, "--video", "cam1="+blank, "--out", track, "--json")
	require.Equal(t, 0, code, out)
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	require.Equal(t, 40, sum.Frames)
	require.Zero(t, sum.Triangulated)
	require.Contains(t, strings.Join(sum.Warnings, "; "), "videos differ in length")
	require.Contains(t, strings.Join(sum.Warnings, "; "), "camera cam1 never contributed")

	// A shorter, smaller and a junk video.
	small := filepath.Join(dir, "small.avi")
	vw, err = gocv.VideoWriterFile(small, "MJPG", 125, 320, 256, true)
	require.NoError(t, err)
	m := gocv.NewMatWithSize(256, 320, gocv.MatTypeCV8UC3)
	for i := 0; i < 3; i++ {
		require.NoError(t, vw.Write(m))
	}
	require.NoError(t, vw.Close())
	m.Close()
	junk := filepath.Join(dir, "junk.avi")
	require.NoError(t, os.WriteFile(junk, []byte("no video here"), 0o644))
	badInfo := filepath.Join(dir, "bad")
	require.NoError(t, os.Mkdir(badInfo, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(badInfo, "cameras.yaml"), []byte("cameras:\n  - name: cam0\n    calibration: c.yaml\n    pose: {position: [0,0,0], orientation: [0,0,0,1]}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(badInfo, "c.yaml"), []byte("image_width: 1280\nimage_height: 1024\n"), 0o644))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no rig", []string{"track", "--video", "cam0=" + c0, "--out", track}, "--cameras"},
		{"missing calibration field", []string{"track", "--cameras", filepath.Join(badInfo, "cameras.yaml"), "--out", track}, "camera_matrix missing"},
		{"unknown camera", []string{"track", "--cameras", rig, "--video", "cam9=" + c0, "--out", track}, "no camera \"cam9\""},
		{"camera without video", []string{"track", "--cameras", rig, "--video", "cam0=" + c0, "--out", track}, "none for camera cam1"},
		{"bad spec", []string{"track", "--cameras", rig, "--video", "cam0", "--out", track}, "NAME=PATH"},
		{"missing file", []string{"track", "--cameras", rig, "--video", "cam0=" + c0, "--video", "cam1=" + filepath.Join(dir, "nope.avi"), "--out", track}, "nope.avi"},
		{"junk file", []string{"track", "--cameras", rig, "--video", "cam0=" + c0, "--video", "cam1=" + junk, "--out", track}, "junk.avi"},
		{"size mismatch", []string{"track", "--cameras", rig, "--video", "cam0=" + c0, "--video", "cam1=" + small, "--out", track}, "320×256"},
		{"bad fidelity", []string{"sim", "--fidelity", "pixels", "--trials", "1"}, "accepted: state, camera"},
		{"render without out", []string{"render", "--throws", "1"}, "--out"},
		{"clutter without camera fidelity", []string{"sim", "--clutter", "--trials", "1"}, "need --fidelity camera"},
		{"unknown background set", []string{"sim", "--fidelity", "camera", "--background-set", "moon", "--trials", "1"}, "want one of"},
		{"eval unknown background set", []string{"track-eval", "--background-set", "moon"}, "want one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runErr(t, tc.args...)
			require.NotEqual(t, 0, code)
			require.Contains(t, out, tc.want)
		})
	}
}

// runErr runs the CLI in-process and returns the exit status and stderr.
func runErr(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stderr
	os.Stderr = w
	code, _ := runOut(t, args...)
	os.Stderr = old
	w.Close()
	b := make([]byte, 1<<16)
	n, _ := r.Read(b)
	r.Close()
	return code, string(b[:n])
}

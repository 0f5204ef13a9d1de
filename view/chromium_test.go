package view

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/trace"
)

// traces flies a few MPC trials of a scenario and returns their trace files.
func traces(t *testing.T, rob *robot.Robot, scenario string, n int) []string {
	t.Helper()
	sc, err := sim.Lookup(scenario)
	require.NoError(t, err)
	dir := t.TempDir()
	_, _, err = sim.Run(context.Background(), sim.RunOptions{
		Scenario: sc, Robot: rob, Trials: n, Seed: 1, Workers: 1,
		NewController: func() (control.Controller, error) { return mpc.New(mpc.Config{}, rob, sim.DefaultReadyQ) },
		NewTracer: func() (sim.Tracer, error) {
			return &trace.Writer{Dir: dir, Controller: "mpc", Seed: 1, RateHz: 250}, nil
		},
	})
	require.NoError(t, err)
	files, err := Files(dir)
	require.NoError(t, err)
	require.Len(t, files, n)
	return files
}

// chromium runs Debian's headless Chromium on a fresh profile and returns
// its stdout and stderr.
func chromium(t *testing.T, args ...string) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	require.NoError(t, err, "chromium is not installed: run make deps (scripts/deps.sh installs Debian's chromium)")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		// WebGL on the CPU (SwiftShader): the page is trusted local content.
		"--enable-unsafe-swiftshader", "--use-angle=swiftshader",
		"--enable-logging=stderr", "--v=0", "--window-size=1280,800", "--virtual-time-budget=10000"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), "chromium: %s", errb.String())
	return out.String(), errb.String()
}

// consoleErrors picks the page's console lines that report errors.
func consoleErrors(stderr string) []string {
	var bad []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, ":CONSOLE") && (strings.Contains(l, "Uncaught") || strings.Contains(l, "Error") || strings.Contains(l, "error")) {
			bad = append(bad, l)
		}
	}
	return bad
}

// TestViewerDrawsRobotAndBallInChromium loads a viewer page in headless
// Chromium, checks that the page reports no error, and checks the
// screenshot for the robot's orange and the ball's yellow-green.
func TestViewerDrawsRobotAndBallInChromium(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	files := traces(t, rob, "nominal", 2)
	page, err := Page(files, Options{Robot: rob})
	require.NoError(t, err)
	dir := t.TempDir()
	html := filepath.Join(dir, "index.html")
	require.NoError(t, os.WriteFile(html, page, 0o644))
	url := "file://" + html

	dom, stderr := chromium(t, "--dump-dom", url)
	require.Contains(t, dom, `data-status="ready"`, "the page finished without error; errors: %s", between(dom, `<pre id="errors">`, "</pre>"))
	require.Empty(t, consoleErrors(stderr))
	require.Contains(t, dom, "mpc nominal #0")

	shot := filepath.Join(dir, "viewer.png")
	_, stderr = chromium(t, "--screenshot="+shot, url)
	// CATCH_SCREENSHOT_DIR keeps the screenshot (docs/viewer.png is one).
	if out := os.Getenv("CATCH_SCREENSHOT_DIR"); out != "" {
		data, err := os.ReadFile(shot)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, "viewer.png"), data, 0o644))
	}
	require.Empty(t, consoleErrors(stderr))
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	robotPx, ballPx := countColours(img)
	// The arm spans tens of thousands of pixels at 1280×800; the ball (an
	// unlit 4.5 cm sphere about 4 m from the camera) a few hundred.
	require.Greater(t, robotPx, 5000, "robot (orange) pixels")
	require.Greater(t, ballPx, 40, "ball (#ccff00) pixels")

}

// countColours counts pixels of the robot's lit orange (red well above
// green, green well above blue) and of the ball's unlit #ccff00.
func countColours(img image.Image) (robot, ball int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if r > 80 && r > g+20 && g > bl+20 && r > bl+60 {
				robot++
			}
			if r >= 190 && r <= 218 && g >= 245 && bl <= 25 {
				ball++
			}
		}
	}
	return robot, ball
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	out, _, _ := strings.Cut(rest, b)
	return out
}

func TestSelectionAndBadInput(t *testing.T) {
	var all []summary
	for i := range 30 {
		all = append(all, summary{path: string(rune('a' + i)), controller: []string{"mpc", "es"}[i%2], sc: "nominal", caught: i%3 != 0, catchble: true})
	}
	sel := selectTrials(all, 6)
	require.Len(t, sel, 6)
	caught, missed := 0, 0
	ctrls := map[string]int{}
	for _, s := range sel {
		ctrls[s.controller]++
		if s.caught {
			caught++
		} else {
			missed++
		}
	}
	require.Equal(t, 3, ctrls["mpc"])
	require.Equal(t, 3, ctrls["es"])
	require.Positive(t, missed)
	require.Positive(t, caught)

	_, err := Files(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	_, err = Files(t.TempDir())
	require.ErrorContains(t, err, "no trace files")
	_, err = stlTriangles([]byte("solid x\nfacet normal 0 0 1\n" + strings.Repeat(" ", 80)))
	require.ErrorContains(t, err, "ASCII STL")
}

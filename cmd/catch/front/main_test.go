package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildFront builds this command as dir/catch the way `make build` does
// (CGO_ENABLED=0) and returns its path. The build fails if any package it
// imports needs cgo, which is what keeps OpenCV and MuJoCo out of it.
func buildFront(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "catch")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build with CGO_ENABLED=0: %s", out)
	return bin
}

// TestFrontNeedsNoSharedLibrary: the front end is a static executable, so
// the dynamic linker loads nothing before its main (the full program loads
// ≈270 libraries, ≈0.2 s).
func TestFrontNeedsNoSharedLibrary(t *testing.T) {
	bin := buildFront(t, t.TempDir())
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	require.Empty(t, libs, "shared libraries the front end would load at start")
	require.Nil(t, f.Section(".interp"), "a dynamic-linker request (.interp) in the front end")
}

// TestFrontDispatch: kin and qp run in the front end itself, with no full
// program present; any other command line replaces the process with
// catch-full beside it, arguments and exit status passed through unchanged
// (a shell script stands in for the full program: what is tested is the
// hand-over, not the program); without catch-full the error names it.
func TestFrontDispatch(t *testing.T) {
	dir := t.TempDir()
	bin := buildFront(t, dir)

	out, err := exec.Command(bin, "kin", "fk", "--q", "0,0,0,0,0,0,0", "--json").Output()
	require.NoError(t, err)
	var fk struct {
		Position []float64 `json:"position"`
	}
	require.NoError(t, json.Unmarshal(out, &fk), string(out))
	// The shipped robot at zero: head at (0.624, 0, 1.430) m (as in the light package's test).
	require.InDeltaSlice(t, []float64{0.624, 0, 1.430}, fk.Position, 1e-12)

	out, err = exec.Command(bin, "qp", "solve", "--method", "newton", "x.json").CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 2, err.(*exec.ExitError).ExitCode(), "bad input in a light command: %s", out)

	out, err = exec.Command(bin, "sim", "--trials", "1").CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 1, err.(*exec.ExitError).ExitCode())
	require.Contains(t, string(out), filepath.Join(dir, fullName))
	require.Equal(t, 1, strings.Count(string(out), "\n"), "one line: %q", out)

	script := "#!/bin/sh\necho \"full $*\"\nexit 7\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, fullName), []byte(script), 0o755))
	out, err = exec.Command(bin, "sim", "--trials", "3", "two words").Output()
	require.Error(t, err)
	require.Equal(t, 7, err.(*exec.ExitError).ExitCode())
	require.Equal(t, "full sim --trials 3 two words\n", string(out))
	out, err = exec.Command(bin).Output()
	require.Error(t, err)
	require.Equal(t, "full \n", string(out), "no arguments: the full program prints the help")
}

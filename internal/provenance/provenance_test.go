package provenance

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStampPNGKeepsTheImageAndAddsTheRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.png")
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(2, 1, color.RGBA{200, 10, 20, 255})
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())

	_, err = ReadPNG(path)
	require.ErrorContains(t, err, "no provenance")
	rec := New([]string{"catch", "bench", "--seed", "7"}, HashConfig([]byte("a: 1\n")), 7)
	require.NoError(t, StampPNG(path, rec))

	got, err := ReadPNG(path)
	require.NoError(t, err)
	require.Equal(t, rec, got)
	f, err = os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec, err := png.Decode(f) // the CRC and chunk order must still be valid
	require.NoError(t, err)
	require.Equal(t, color.RGBA{200, 10, 20, 255}, color.RGBAModel.Convert(dec.At(2, 1)))

	require.Error(t, StampPNG(filepath.Join(t.TempDir(), "missing.png"), rec))
	txt := filepath.Join(t.TempDir(), "x.png")
	require.NoError(t, os.WriteFile(txt, []byte("not a png at all, but long enough to read a header"), 0o644))
	require.ErrorContains(t, StampPNG(txt, rec), "not a PNG")
}

func TestRecordForms(t *testing.T) {
	rec := Record{Build: Build{Module: "m", Version: "v1.2.3", Revision: "abc", Modified: true, Go: "go1.26"},
		Command: []string{"catch", "sim"}, ConfigSHA256: HashConfig(nil), Seed: 3}
	require.Equal(t, "m v1.2.3 revision abc (modified) go1.26", rec.Build.String())
	// SHA-256 of the empty input.
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", rec.ConfigSHA256)
	require.Contains(t, rec.Comment(), `# provenance: {"module":"m"`)
	require.Contains(t, rec.Markdown(), "seed 3")
	require.Contains(t, Build{Module: "m", Version: "(devel)", Go: "go1.26"}.String(), "no VCS revision")
}

// The linker-set revision (the Makefile's -X flags) fills in where the
// build information has none, as in a test binary.
func TestLinkerRevisionFillsIn(t *testing.T) {
	require.Empty(t, readBuildInfo().Revision, "test binaries carry no VCS stamp")
	old := [3]string{revision, modified, vcsTime}
	defer func() { revision, modified, vcsTime = old[0], old[1], old[2] }()
	revision, modified, vcsTime = "0123abcd", "true", "2026-12-07T15:00:00Z"
	b := ReadBuild()
	require.Equal(t, "0123abcd", b.Revision)
	require.True(t, b.Modified)
	require.Contains(t, b.String(), "revision 0123abcd (modified) 2026-12-07T15:00:00Z")
}

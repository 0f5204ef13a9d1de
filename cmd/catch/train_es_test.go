package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/policy"
)

func TestTrainESBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "p.json")
	for _, args := range [][]string{
		{"train", "es", "--scenario", "nope", "--out", out},
		{"train", "es", "--iterations", "0", "--out", out},
		{"train", "es", "--scenario", "nominal"},
		{"train", "es", "--out", filepath.Join(dir, "missing", "p.json")},
		{"train", "es", "--out", out, "--resume"},
		{"train", "es", "--sigma", "-1", "--out", out},
		{"train", "es", "--policy", "bogus", "--out", out},
		{"sim", "--controller", "es", "--policy", filepath.Join(dir, "nope.json"), "--trials", "1"},
	} {
		code, _ := runOut(t, args...)
		require.Equal(t, 2, code, strings.Join(args, " "))
	}
}

// TestTrainESRunAndResume trains two tiny steps, resumes for a third, and
// flies the result through `catch sim --policy`.
func TestTrainESRunAndResume(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "p.json")
	common := []string{"train", "es", "--scenario", "nominal,fast", "--perturbations", "2", "--episodes", "1",
		"--eval-episodes", "2", "--eval-every", "1", "--seed", "4", "--out", out}
	code, _ := runOut(t, append(common, "--iterations", "2")...)
	require.Equal(t, 0, code)
	for _, f := range []string{out, out + ".ckpt", filepath.Join(dir, "p.train_es.csv"), filepath.Join(dir, "p.train_es.png")} {
		_, err := os.Stat(f)
		require.NoError(t, err, f)
	}
	// A resume with other settings is refused (the old code went on from
	// the nominal,fast weights under the new label); --force overrides.
	other := append([]string{}, common...)
	other[3] = "hand-lob"
	code, _ = runOut(t, append(other, "--iterations", "3", "--resume")...)
	require.Equal(t, 2, code, "resume with other scenarios")
	code, _ = runOut(t, append(common, "--iterations", "3", "--resume", "--seed", "5")...)
	require.Equal(t, 2, code, "resume with another seed")
	code, _ = runOut(t, append(common, "--iterations", "3", "--resume")...)
	require.Equal(t, 0, code)
	csv, err := os.ReadFile(filepath.Join(dir, "p.train_es.csv"))
	require.NoError(t, err)
	require.Equal(t, 5, strings.Count(string(csv), "\n"), "provenance, header and three steps")
	require.True(t, strings.HasPrefix(string(csv), "# provenance: {"), "the CSV starts with its provenance")
	require.Contains(t, string(csv), `"seed":4`)
	p, err := policy.LoadFile(out)
	require.NoError(t, err)
	require.Equal(t, 3, p.Trained.Iterations)
	var pr provenance.Record
	require.NoError(t, json.Unmarshal(p.Trained.Provenance, &pr))
	require.Equal(t, []string{"catch", "train", "es"}, pr.Command[:3])
	rec, err := provenance.ReadPNG(filepath.Join(dir, "p.train_es.png"))
	require.NoError(t, err)
	require.Equal(t, uint64(4), rec.Seed)

	// A second run in the same directory writes its own logs.
	out2 := filepath.Join(dir, "q.json")
	code, _ = runOut(t, "train", "es", "--scenario", "nominal", "--perturbations", "2", "--episodes", "1",
		"--eval-episodes", "2", "--eval-every", "1", "--seed", "5", "--iterations", "1", "--out", out2)
	require.Equal(t, 0, code)
	again, err := os.ReadFile(filepath.Join(dir, "p.train_es.csv"))
	require.NoError(t, err)
	require.Equal(t, string(csv), string(again), "the first run's log is untouched")
	_, err = os.Stat(filepath.Join(dir, "q.train_es.csv"))
	require.NoError(t, err)

	code, js := runOut(t, "sim", "--controller", "es", "--policy", out, "--trials", "2", "--json")
	require.Equal(t, 0, code)
	require.Contains(t, js, `"controller": "es"`)
}

// TestTrainPaperAndBench trains the paper class one tiny step, flies the
// result as es-paper through catch sim and catch bench, and checks that the
// bench report names the policy's origin.
func TestTrainPaperAndBench(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "paper.json")
	args := []string{"train", "es", "--scenario", "nominal", "--perturbations", "2", "--episodes", "1",
		"--eval-episodes", "2", "--eval-every", "1", "--seed", "4", "--out", out}
	code, _ := runOut(t, append(args, "--policy", "paper", "--iterations", "1")...)
	require.Equal(t, 0, code)
	// the checkpoint resumes as the paper class only
	code, _ = runOut(t, append(args, "--iterations", "2", "--resume")...)
	require.Equal(t, 2, code, "resume as the structured class")
	code, _ = runOut(t, append(args, "--policy", "paper", "--iterations", "2", "--resume")...)
	require.Equal(t, 0, code)
	p, err := policy.LoadFile(out)
	require.NoError(t, err)
	require.Equal(t, policy.ClassPaper, p.ClassName())
	require.Equal(t, 2, p.Trained.Iterations)
	require.Contains(t, p.Origin(), "seed 4")

	code, js := runOut(t, "sim", "--controller", "es-paper", "--policy", out, "--trials", "2", "--json")
	require.Equal(t, 0, code)
	require.Contains(t, js, `"controller": "es-paper"`)
	// es-paper refuses a structured policy file
	structured := filepath.Join(dir, "s.json")
	require.NoError(t, policy.NewPolicy(policy.FeatureConfig{}, 4, 1).Save(structured))
	code, _ = runOut(t, "sim", "--controller", "es-paper", "--policy", structured, "--trials", "1")
	require.Equal(t, 2, code)

	cfg := filepath.Join(dir, "run.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("es:\n  paper_policy: paper.json\n"), 0o644))
	bdir := filepath.Join(dir, "bench")
	code, _ = runOut(t, "bench", "--config", cfg, "--controllers", "es-paper", "--scenarios", "nominal", "--trials", "1", "--out", bdir)
	require.Equal(t, 0, code)
	report, err := os.ReadFile(filepath.Join(bdir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(report), "Policy of `es-paper`: class paper; command `catch train es")
	require.Contains(t, string(report), "--policy paper")
	require.Contains(t, string(report), "seed 4; 8 training episodes in 2 steps")
}

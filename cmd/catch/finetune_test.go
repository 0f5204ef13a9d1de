package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/policy"
)

func TestFineTuneESBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "p.json")
	for _, args := range [][]string{
		{"finetune", "es", "--throws", "3", "--out", out},
		{"finetune", "es", "--iterations", "0", "--out", out},
		{"finetune", "es", "--engine", "bullet", "--out", out},
		{"finetune", "es"},
		{"finetune", "es", "--out", filepath.Join(dir, "missing", "p.json")},
	} {
		code, _ := runOut(t, args...)
		require.Equal(t, 2, code, strings.Join(args, " "))
	}
}

// Two fine-tuning steps in MuJoCo: the candidates and the external
// evaluator's JSONL logs are written, the policy moves, and the JSON
// reports success before and after on the same held-out throws.
func TestFineTuneESInMuJoCo(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "tuned.json")
	code, text := runOut(t, "finetune", "es", "--engine", "mujoco", "--iterations", "2", "--throws", "4",
		"--eval-trials", "4", "--seed", "3", "--out", out, "--json")
	require.Equal(t, 0, code, text)
	var r FineTuneResult
	require.NoError(t, json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &r))
	require.Equal(t, "mujoco", r.Engine)
	require.Len(t, r.History, 2)
	require.Equal(t, int64(8), r.History[1].Throws)
	require.Equal(t, r.Before.Catchable, r.After.Catchable, "the same held-out throws before and after")
	require.Equal(t, 4, r.Before.Trials)
	logs, err := filepath.Glob(filepath.Join(dir, "tuned.finetune", "it*.jsonl"))
	require.NoError(t, err)
	require.Len(t, logs, 2)
	data, err := os.ReadFile(logs[0])
	require.NoError(t, err)
	require.Equal(t, 4, strings.Count(string(data), "\n"), "one line per throw")
	require.Contains(t, string(data), `"policy_id":"it000000-d000-plus"`)
	tuned, err := policy.LoadFile(out)
	require.NoError(t, err)
	orig, err := policy.Shipped()
	require.NoError(t, err)
	require.NotEqual(t, orig.Net.Params, tuned.Net.Params, "two steps moved the policy")
}

// One fine-tuning step of the fused controller in the kinematic engine:
// its θ (a policy of class fused) moves through the same external loop.
func TestFineTuneFused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fused.json")
	code, text := runOut(t, "finetune", "fused", "--engine", "kinematic", "--scenario", "light-ball", "--iterations", "1",
		"--throws", "4", "--eval-trials", "2", "--seed", "3", "--out", out, "--json")
	require.Equal(t, 0, code, text)
	var r FineTuneResult
	require.NoError(t, json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &r))
	require.Equal(t, "fused", r.Kind)
	require.Len(t, r.History, 1)
	tuned, err := policy.LoadFile(out)
	require.NoError(t, err)
	require.Equal(t, "fused", tuned.Class)
	require.NotEqual(t, make([]float64, len(tuned.Theta)), tuned.Theta, "one step moved θ")
}

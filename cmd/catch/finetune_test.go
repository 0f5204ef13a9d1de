package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/fused"
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
		{"finetune", "es", "--throws", "30", "--pairs", "4", "--out", out},
		{"finetune", "es", "--free", "decisive", "--out", out},
		{"finetune", "fused", "--free", "wings", "--out", out},
		{"finetune", "fused", "--free", "1,99999", "--out", out},
		{"finetune", "fused", "--validate", "-1", "--out", out},
		{"finetune", "fused", "--select-every", "0", "--out", out},
		{"finetune", "fused", "--select", "luck", "--out", out},
		{"finetune", "fused", "--scenario", "slow,nope", "--out", out},
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
		"--eval-trials", "4", "--validate", "0", "--seed", "3", "--out", out, "--json")
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
		"--throws", "4", "--eval-trials", "2", "--validate", "0", "--seed", "3", "--out", out, "--json")
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

// Fused fine-tuning on a subset of θ with antithetic pairs on common
// throws and the choice by validation: the + and − policy of a pair fly
// the same throws, only the free indices move, and the policy written is
// the validated one (the start unless a snapshot caught strictly more).
func TestFineTuneFusedFreeValidated(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fused.json")
	code, text := runOut(t, "finetune", "fused", "--engine", "kinematic", "--scenario", "hand-lob", "--iterations", "2",
		"--throws", "8", "--pairs", "2", "--free", "decisive", "--validate", "3", "--select-every", "1",
		"--eval-trials", "2", "--seed", "3", "--sigma", "1", "--step-size", "1", "--out", out, "--json")
	require.Equal(t, 0, code, text)
	var r FineTuneResult
	require.NoError(t, json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &r))
	require.Equal(t, 2, r.Pairs)
	want, err := fused.FreeSet("decisive")
	require.NoError(t, err)
	require.Equal(t, want, r.Free)
	require.Equal(t, int64(16), r.History[1].Throws)

	// the + and − of each pair flew the same two throws
	data, err := os.ReadFile(filepath.Join(dir, "fused.finetune", "it000001.jsonl"))
	require.NoError(t, err)
	releases := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l policy.TrialLog
		require.NoError(t, json.Unmarshal([]byte(line), &l))
		rel, err := json.Marshal(l.Release)
		require.NoError(t, err)
		releases[l.PolicyID] = append(releases[l.PolicyID], string(rel))
	}
	require.Len(t, releases, 4)
	for k := 0; k < 2; k++ {
		plus, minus := releases[policy.CandidateID(1, k, true)], releases[policy.CandidateID(1, k, false)]
		require.Len(t, plus, 2)
		require.Equal(t, plus, minus, "pair %d", k)
	}
	require.NotEqual(t, releases[policy.CandidateID(1, 0, true)], releases[policy.CandidateID(1, 1, true)], "pairs fly other throws")

	// the snapshots after each step and the start were validated on the
	// same throws; the kept one beat the start's reward by the sign test
	// and caught no fewer, else the start is kept
	v := r.Validation
	require.NotNil(t, v)
	require.Equal(t, "reward", v.Select)
	require.Len(t, v.Candidates, 3)
	best := 0
	for k, c := range v.Candidates {
		require.Equal(t, k, c.Iteration)
		require.Equal(t, v.Candidates[0].Catchable, c.Catchable)
		require.Equal(t, c.Caught-v.Candidates[0].Caught, c.Gained-c.Lost)
		require.LessOrEqual(t, c.RewardWins+c.RewardLosses, 3)
		if k > 0 {
			require.Equal(t, signTestP(c.RewardWins, c.RewardLosses), c.P)
			if c.P <= 0.05/2 && c.Caught >= v.Candidates[0].Caught && (best == 0 || c.MeanReward > v.Candidates[best].MeanReward) {
				best = k
			}
		}
	}
	require.Equal(t, best, v.Kept)

	// the free indices moved in the last step's policy, nothing else
	start, err := fused.Shipped()
	require.NoError(t, err)
	last, err := policy.LoadFile(filepath.Join(dir, "fused.finetune", "it000001-d000-plus.json"))
	require.NoError(t, err)
	isFree := map[int]bool{}
	for _, i := range want {
		isFree[i] = true
	}
	for i := range start.Theta {
		if !isFree[i] {
			require.Equal(t, start.Theta[i], last.Theta[i], "index %d", i)
		}
	}
	tuned, err := policy.LoadFile(out)
	require.NoError(t, err)
	if v.Kept == 0 {
		require.Equal(t, start.Theta, tuned.Theta, "validation kept the start")
	} else {
		require.NotEqual(t, start.Theta, tuned.Theta)
	}
}

// Fine-tuning on several scenarios: the steps' throws go round the list,
// the + and − of a pair still fly the same throws, and the evaluation
// reports each scenario and their sum.
func TestFineTuneScenarioList(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fused.json")
	code, text := runOut(t, "finetune", "fused", "--engine", "kinematic", "--scenario", "wide-yaw,slow", "--iterations", "1",
		"--throws", "8", "--pairs", "2", "--free", "gate", "--validate", "2", "--select", "catches",
		"--eval-trials", "2", "--seed", "4", "--out", out, "--json")
	require.Equal(t, 0, code, text)
	var r FineTuneResult
	require.NoError(t, json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &r))
	require.Equal(t, "wide-yaw,slow", r.Scenario)
	require.Len(t, r.BeforeBy, 2)
	require.Len(t, r.AfterBy, 2)
	require.Equal(t, "wide-yaw", r.BeforeBy[0].Scenario)
	require.Equal(t, "slow", r.BeforeBy[1].Scenario)
	require.Equal(t, 4, r.Before.Trials)
	require.Equal(t, r.BeforeBy[0].Caught+r.BeforeBy[1].Caught, r.Before.Caught)
	require.Equal(t, "catches", r.Validation.Select)
	require.Len(t, r.Validation.Candidates, 2)

	data, err := os.ReadFile(filepath.Join(dir, "fused.finetune", "it000000.jsonl"))
	require.NoError(t, err)
	scen := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l policy.TrialLog
		require.NoError(t, json.Unmarshal([]byte(line), &l))
		scen[l.PolicyID] = append(scen[l.PolicyID], l.Scenario)
	}
	for k := 0; k < 2; k++ {
		plus, minus := scen[policy.CandidateID(0, k, true)], scen[policy.CandidateID(0, k, false)]
		require.Equal(t, []string{"wide-yaw", "slow"}, plus, "pair %d", k)
		require.Equal(t, plus, minus, "pair %d", k)
	}
}

// The validation's choice: by reward a snapshot must win the sign test
// on rewards and catch no fewer throws than the start; by catches it
// must win the sign test on catches.
func TestChooseSnapshot(t *testing.T) {
	v := &FineTuneValidation{Alpha: 0.05, Select: "reward", Candidates: []FineTuneCandidate{
		{Iteration: 0, Caught: 90, MeanReward: 1, P: 1},
		{Iteration: 10, Caught: 89, MeanReward: 3, P: 0.001}, // more reward, a catch fewer
		{Iteration: 20, Caught: 90, MeanReward: 2, P: 0.001},
		{Iteration: 30, Caught: 95, MeanReward: 2.5, P: 0.2}, // not significant
	}}
	require.Equal(t, 20, chooseSnapshot(v))
	v.Candidates[2].P = 0.02 // above 0.05/3
	require.Equal(t, 0, chooseSnapshot(v))
	v.Select = "catches"
	v.Candidates[3].P = 0.01
	require.Equal(t, 30, chooseSnapshot(v))

	w, l := pairedSigns([]float64{1, 2, 3, 4}, []float64{1, 1, 4, 0})
	require.Equal(t, 2, w)
	require.Equal(t, 1, l)
}

func TestSignTestP(t *testing.T) {
	require.Equal(t, 1.0, signTestP(0, 0))
	require.InDelta(t, 1.0/32, signTestP(5, 0), 1e-12)
	require.InDelta(t, 42.0/64, signTestP(3, 3), 1e-12)
	require.InDelta(t, 1.0, signTestP(0, 4), 1e-12)
	require.InDelta(t, 8.0/128, signTestP(6, 1), 1e-12)
}

package policy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/agilecatch/catch/sim"
)

// TrialLog is one line of an external evaluator's JSONL trial log: the
// policy that flew the throw and the trial's result (the simulator's
// TrialResult fields; a real setup fills what it measures — at least
// caught, miss_distance_m, align_cos, in_pocket_s, slow_in_pocket_s and
// limit_violations).
type TrialLog struct {
	PolicyID string `json:"policy_id"`
	sim.TrialResult
}

// CandidateID names perturbed policy k (0 ≤ k < P) of step iter, sign +
// (plus) or − (minus).
func CandidateID(iter, k int, plus bool) string {
	s := "minus"
	if plus {
		s = "plus"
	}
	return fmt.Sprintf("it%06d-d%03d-%s", iter, k, s)
}

// WriteCandidates writes the 2·P perturbed policies of the current step
// into dir as <id>.json (see CandidateID) for an external evaluator (a real
// arm) to fly, and returns their ids in order (+, − per direction). The
// directions are a deterministic function of (seed, step), so
// StepFromLogs can apply the update later, also after a restart.
func (t *Trainer) WriteCandidates(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	iter := t.st.Iteration
	dirs := t.directions(iter)
	theta := t.st.Policy.Params()
	var ids []string
	for k := range dirs {
		for _, plus := range []bool{true, false} {
			p := t.st.Policy.Clone()
			sign := 1.0
			if !plus {
				sign = -1
			}
			pp := p.Params()
			for i := range pp {
				pp[i] = theta[i] + sign*t.cfg.SigmaAt(iter)*dirs[k][i]
			}
			id := CandidateID(iter, k, plus)
			if err := p.Save(filepath.Join(dir, id+".json")); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// StepFromLogs applies the current step's BGS update from an external
// evaluator's trial logs (JSONL, TrialLog per line): each candidate's
// return is the mean reward of its logged throws. Lines of other steps'
// candidates are ignored; every candidate of this step needs at least one
// throw. The observation normaliser is not updated (logs carry no
// observations).
func (t *Trainer) StepFromLogs(r io.Reader) (IterStats, error) {
	start := time.Now()
	iter := t.st.Iteration
	P := t.cfg.Perturbations
	index := map[string]int{}
	for k := 0; k < P; k++ {
		index[CandidateID(iter, k, true)] = 2 * k
		index[CandidateID(iter, k, false)] = 2*k + 1
	}
	sum := make([]float64, 2*P)
	cnt := make([]int, 2*P)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	line, used, caught := 0, 0, 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l TrialLog
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return IterStats{}, fmt.Errorf("trial log line %d: %w", line, err)
		}
		j, ok := index[l.PolicyID]
		if !ok {
			continue
		}
		sum[j] += t.cfg.Reward.Reward(&l.TrialResult, Stats{}, t.period)
		cnt[j]++
		used++
		if l.Caught {
			caught++
		}
	}
	if err := sc.Err(); err != nil {
		return IterStats{}, fmt.Errorf("trial log: %w", err)
	}
	rp, rm := make([]float64, P), make([]float64, P)
	var total float64
	for k := 0; k < P; k++ {
		for s, dst := range []*float64{&rp[k], &rm[k]} {
			j := 2*k + s
			if cnt[j] == 0 {
				return IterStats{}, fmt.Errorf("trial log: no throws of candidate %s", CandidateID(iter, k, s == 0))
			}
			*dst = sum[j] / float64(cnt[j])
			total += sum[j]
		}
	}
	t.update(t.directions(iter), rp, rm)
	t.st.Iteration++
	t.st.Episodes += int64(used)
	t.st.WallS += time.Since(start).Seconds()
	is := IterStats{Iteration: t.st.Iteration, Episodes: t.st.Episodes, EvalEpisode: t.st.EvalEps,
		MeanReward: total / float64(used), MaxReward: math.NaN(), CatchRate: float64(caught) / float64(used),
		EvalSuccess: math.NaN(), EvalReward: math.NaN(), WallS: t.st.WallS}
	t.st.History = append(t.st.History, is)
	return is, nil
}

// ExternalReward is the reward StepFromLogs gives a logged throw (the
// trainer's reward with no controller counters, as an external evaluator
// logs them), for comparing policies on the same throws outside a step.
func (t *Trainer) ExternalReward(r *sim.TrialResult) float64 {
	return t.cfg.Reward.Reward(r, Stats{}, t.period)
}

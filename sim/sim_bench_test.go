package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/robot"
)

func benchWorld(b *testing.B, scenario string) (*World, *Scenario) {
	rob, err := robot.Default()
	require.NoError(b, err)
	sc, err := Lookup(scenario)
	require.NoError(b, err)
	w, err := NewWorld(Config{}, rob, sc)
	require.NoError(b, err)
	return w, sc
}

// BenchmarkTrialHold is one nominal trial (sampling, reachability, flight,
// arm, pocket, estimator) with the Hold controller.
func BenchmarkTrialHold(b *testing.B) {
	w, sc := benchWorld(b, "nominal")
	var h control.Hold
	var res TrialResult
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := RunTrial(w, &h, sc, 1, i, &res); err != nil {
			b.Fatal(err)
		}
		w.StepMS = w.StepMS[:0]
	}
}

// BenchmarkCatchable is the reachability check of one nominal throw.
func BenchmarkCatchable(b *testing.B) {
	w, sc := benchWorld(b, "nominal")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		th := sc.Sample(TrialRand(1, i))
		w.reach.Catchable(&th)
	}
}

// BenchmarkSample is drawing one nominal throw (secant on the full model).
func BenchmarkSample(b *testing.B) {
	_, sc := benchWorld(b, "nominal")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sc.Sample(TrialRand(1, i))
	}
}

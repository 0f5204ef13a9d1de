package launch

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReplayReportJSONNonFinite: a replay whose command went NaN still
// encodes: the NaN and infinite numbers become null and are named under
// non_finite (encoding/json refused them, and `catch replay --json` lost the
// whole report).
func TestReplayReportJSONNonFinite(t *testing.T) {
	reps := []ReplayReport{
		{Seq: 0, Ticks: 10, MaxCmdDiff: 1e-12, FirstDiffTick: -1},
		{Seq: 1, Ticks: 12, MaxCmdDiff: math.NaN(), FirstDiffTick: 3, FirstDiffS: 0.012, MaxEstDiffM: math.Inf(1)},
	}
	b, err := json.Marshal(reps)
	require.NoError(t, err)
	var got []map[string]any
	require.NoError(t, json.Unmarshal(b, &got), string(b))
	require.Equal(t, 1e-12, got[0]["max_cmd_diff"])
	require.NotContains(t, got[0], "non_finite")
	require.NotContains(t, got[0], "first_diff_s", "zero is omitted as before")
	require.Nil(t, got[1]["max_cmd_diff"])
	require.Nil(t, got[1]["max_est_diff_m"])
	require.Equal(t, 0.012, got[1]["first_diff_s"])
	require.Equal(t, map[string]any{"max_cmd_diff": "NaN", "max_est_diff_m": "+Inf"}, got[1]["non_finite"])
	require.Equal(t, 3.0, got[1]["first_diff_tick"])
}

package control

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	h.init()
	// 98 samples at 10 µs, one at 5 ms, one at 50 ms: p50 10 µs, p99 5 ms.
	for i := 0; i < 98; i++ {
		h.add(10 * time.Microsecond)
	}
	h.add(5 * time.Millisecond)
	h.add(50 * time.Millisecond)
	q := h.quantiles()
	require.Equal(t, uint64(100), q.N)
	require.InDelta(t, 10.5, q.P50, 1e-9)   // bin centre, 1 µs bins
	require.InDelta(t, 5000.5, q.P99, 1e-9) // bin centre
	require.InDelta(t, 50000, q.Max, 1e-9)  // exact
	h.add(2 * time.Second)                  // beyond the bins: only the maximum sees it
	require.InDelta(t, 2e6, h.quantiles().Max, 1e-9)
	require.Zero(t, testing.AllocsPerRun(100, func() { h.add(time.Millisecond) }))
}

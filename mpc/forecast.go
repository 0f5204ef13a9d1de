package mpc

import (
	"math"

	"github.com/agilecatch/catch/control"
)

// SelectCatch picks, from forecast samples, the catch time the most samples
// pass through: for every horizon h it counts the samples whose position at
// that horizon lies within radius (m) of the physics prediction pr at the
// same time, and returns the horizon time with the highest count (ties: the
// earliest) and whether any horizon had a sample inside. Only horizons
// inside the predicted table count. It allocates nothing.
func SelectCatch(f *control.Forecast, pr *Predictor, radius float64) (float64, bool) {
	if f == nil || f.N == 0 || f.H == 0 || len(f.Pos) < f.N*f.H*3 || pr.Len() == 0 {
		return 0, false
	}
	best, bestT := 0, 0.0
	r2 := radius * radius
	for h := 0; h < f.H; h++ {
		t := f.T0 + float64(h+1)*f.Dt
		if t < pr.T0() || t > pr.End() {
			continue
		}
		c, _, _ := pr.At(t)
		cnt := 0
		for s := 0; s < f.N; s++ {
			o := (s*f.H + h) * 3
			dx, dy, dz := f.Pos[o]-c[0], f.Pos[o+1]-c[1], f.Pos[o+2]-c[2]
			if dx*dx+dy*dy+dz*dz <= r2 {
				cnt++
			}
		}
		if cnt > best {
			best, bestT = cnt, t
		}
	}
	if best == 0 || math.IsNaN(bestT) {
		return 0, false
	}
	return bestT, true
}

package calib

import (
	"fmt"
	"math"
	"sort"
)

// Stereo is a stereo pair's calibration.
type Stereo struct {
	Left, Right *Intrinsic
	// Pairs is how many image pairs had the board in both images.
	Pairs int
	// RightFromLeft maps points from the left optical frame to the right
	// one (OpenCV's stereoCalibrate R, T).
	RightFromLeft Pose
	// BaselineM is |T|, the distance between the optical centres, m;
	// BaselineStdM its spread over the pairs, RotSpreadDeg the largest
	// angle between a pair's relative rotation and the mean.
	BaselineM    float64
	BaselineStdM float64
	RotSpreadDeg float64
	// Warnings are both cameras' (Intrinsic.Warnings), prefixed left:/right:.
	Warnings []string
}

// StereoPair calibrates each camera on its own images (files paired by
// sorted name: left[i] with right[i]) and takes the relative pose as the
// mean over the pairs where both saw the board of
// (board in right) · (board in left)⁻¹. It refuses sets that cannot be a
// stereo pair: a file in both sets, a baseline under opt.MinBaselineM
// (identical images), or pairs whose relative poses disagree beyond
// opt.MaxRotSpreadDeg / opt.MaxBaselineSpread (mis-paired images).
func StereoPair(left, right []string, b Board, opt Options) (*Stereo, error) {
	opt = opt.withDefaults()
	if len(left) != len(right) {
		return nil, fmt.Errorf("%w: %d left and %d right images, want pairs", ErrInput, len(left), len(right))
	}
	left, right = sorted(left), sorted(right)
	inLeft := index(left)
	for _, f := range right {
		if _, dup := inLeft[f]; dup {
			return nil, fmt.Errorf("%w: %s is both a left and a right image: want each camera's own images", ErrInput, f)
		}
	}
	l, err := Intrinsics(left, b, opt)
	if err != nil {
		return nil, fmt.Errorf("left: %w", err)
	}
	r, err := Intrinsics(right, b, opt)
	if err != nil {
		return nil, fmt.Errorf("right: %w", err)
	}
	li, ri := index(l.Used), index(r.Used)
	var rels []Pose
	for i := range left {
		a, okA := li[left[i]]
		c, okC := ri[right[i]]
		if okA && okC {
			rels = append(rels, r.BoardInCam[c].Mul(l.BoardInCam[a].Inv()))
		}
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("%w: no pair with the board in both images", ErrInput)
	}
	// Mean rotation: sign-aligned quaternion average (the rotations are
	// close together); mean translation.
	var qm [4]float64
	var tm [3]float64
	q0 := rels[0].Quat()
	for _, p := range rels {
		q := p.Quat()
		s := 1.0
		if q[0]*q0[0]+q[1]*q0[1]+q[2]*q0[2]+q[3]*q0[3] < 0 {
			s = -1
		}
		for k := range qm {
			qm[k] += s * q[k]
		}
		for k := range tm {
			tm[k] += p.T[k] / float64(len(rels))
		}
	}
	mean, err := PoseFromQuat(tm, qm)
	if err != nil {
		return nil, err
	}
	st := &Stereo{Left: l, Right: r, Pairs: len(rels), RightFromLeft: mean, BaselineM: norm(tm)}
	var v float64
	for _, p := range rels {
		d := norm(p.T) - st.BaselineM
		v += d * d
		// angle of mean⁻¹·p
		rr := mean.Inv().Mul(p).R
		c := (rr[0][0] + rr[1][1] + rr[2][2] - 1) / 2
		st.RotSpreadDeg = math.Max(st.RotSpreadDeg, math.Acos(math.Max(-1, math.Min(1, c)))*180/math.Pi)
	}
	st.BaselineStdM = math.Sqrt(v / float64(len(rels)))
	if st.BaselineM < opt.MinBaselineM {
		return nil, fmt.Errorf("%w: baseline %.4f m, want at least %.4f m: the left and right images show the board from one place (the same images twice?)", ErrInput, st.BaselineM, opt.MinBaselineM)
	}
	if st.RotSpreadDeg > opt.MaxRotSpreadDeg || st.BaselineStdM > opt.MaxBaselineSpread*st.BaselineM {
		return nil, fmt.Errorf("%w: the %d pairs disagree on the relative pose (rotation spread %.2f°, limit %.2f°; baseline %.4f ± %.4f m, limit ± %.0f%%): images mis-paired (pairs are matched by sorted name) or a camera moved",
			ErrInput, len(rels), st.RotSpreadDeg, opt.MaxRotSpreadDeg, st.BaselineM, st.BaselineStdM, 100*opt.MaxBaselineSpread)
	}
	st.Warnings = append(append([]string(nil), prefixed("left: ", l.Warnings)...), prefixed("right: ", r.Warnings)...)
	return st, nil
}

func prefixed(p string, s []string) []string {
	out := make([]string, len(s))
	for i, m := range s {
		out[i] = p + m
	}
	return out
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func index(s []string) map[string]int {
	m := map[string]int{}
	for i, f := range s {
		m[f] = i
	}
	return m
}

func norm(v [3]float64) float64 { return math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2]) }

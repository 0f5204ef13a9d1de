package robot

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Composing every joint's Transform from the root to the tip gives the
// chain's forward kinematics, for random joint values.
func TestJointTransformsComposeToFK(t *testing.T) {
	rob, err := Default()
	require.NoError(t, err)
	m := rob.Model
	parentJoint := map[string]int{}
	for i, j := range m.Joints {
		parentJoint[j.Child] = i
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lim := rob.Limits
	q := make([]float64, rob.Chain.DOF())
	var vals []float64
	for range 50 {
		for i := range q {
			q[i] = lim.Lower[i] + rng.Float64()*(lim.Upper[i]-lim.Lower[i])
		}
		vals = m.JointValues(rob.Chain, q, vals)
		require.Len(t, vals, len(m.Joints))
		// Walk from the tip up to the root, composing parent ← child.
		pose := Identity()
		for link := rob.Chain.Tip(); link != m.Root; {
			k := parentJoint[link]
			pose = m.Joints[k].Transform(vals[k]).Mul(pose)
			link = m.Joints[k].Parent
		}
		var fk Pose
		rob.Chain.FK(q, &fk)
		for r := range 3 {
			require.InDelta(t, fk.P[r], pose.P[r], 1e-9) // m
			for c := range 3 {
				require.InDelta(t, fk.R[r][c], pose.R[r][c], 1e-9)
			}
		}
	}
}

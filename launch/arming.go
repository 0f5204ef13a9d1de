package launch

import (
	"fmt"
	"strings"

	"github.com/agilecatch/catch/robot"
)

// CheckArming is the check before commands may go to a real arm: every
// joint of the URDF chain (names = the chain's joint names, or
// node.ros.joint_names) must be among the joint names the driver reports,
// and the driver's current position of each must lie inside the URDF's
// limits (a driver that reports degrees, or a URDF for another arm, fails
// here). q is the measured state in chain order (nil: not yet received).
// Joints the driver reports beyond the chain's (a gripper) are allowed.
func CheckArming(names []string, lim robot.Limits, driver []string, q []float64) error {
	if len(driver) == 0 {
		return fmt.Errorf("arming: no joint state from the driver yet (is it publishing on joint_states?)")
	}
	have := map[string]bool{}
	for _, n := range driver {
		have[n] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("arming: the driver reports joints [%s] but not [%s] of the URDF chain [%s]; set node.ros.joint_names to the driver's names in chain order",
			strings.Join(driver, ", "), strings.Join(missing, ", "), strings.Join(names, ", "))
	}
	if q == nil {
		return fmt.Errorf("arming: joint names match but no valid joint state was accepted yet")
	}
	for j, n := range names {
		if j >= len(q) || j >= len(lim.Lower) {
			return fmt.Errorf("arming: %d positions and %d limits for %d joints", len(q), len(lim.Lower), len(names))
		}
		if !(q[j] >= lim.Lower[j] && q[j] <= lim.Upper[j]) {
			return fmt.Errorf("arming: joint %s is at %.4g, outside the URDF limits [%.4g, %.4g] (units or calibration differ between driver and URDF?)",
				n, q[j], lim.Lower[j], lim.Upper[j])
		}
	}
	return nil
}

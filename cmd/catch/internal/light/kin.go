package light

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/robot"
)

// fkOutput is the JSON form of a pose printed by 'catch kin fk'.
type fkOutput struct {
	Position   [3]float64    `json:"position"`
	Rotation   [3][3]float64 `json:"rotation"`
	Quaternion [4]float64    `json:"quaternion"`
}

// Kin is `catch kin`: forward kinematics of the shipped or a given URDF.
func Kin() *cobra.Command {
	kin := &cobra.Command{
		Use:   "kin",
		Short: "Kinematics tools for the robot description (URDF)",
		Args:  cobra.NoArgs,
	}

	var (
		urdfPath, base, tip, qText string
		asJSON                     bool
	)
	fk := &cobra.Command{
		Use:   "fk",
		Short: "Print the forward kinematics of a chain at joint positions q",
		Long: `Loads a URDF (default: the shipped rail + IRB 120T + lacrosse head), builds
the chain from --base to --tip and prints the tip pose in the base frame:
position (m), rotation matrix (columns are the tip's axes) and quaternion
(x, y, z, w). --q lists one value per movable joint in chain order (m for
prismatic, rad for revolute joints).`,
		Example: `  catch kin fk --q 0,0,0,0,0,0,0 --json
  catch kin fk --urdf my.urdf --base base_link --tip flange --q 0,0.3,0.3,0,0.5,0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var m *robot.Model
			var err error
			if urdfPath == "" {
				if m, err = robot.ParseURDF(robot.ShippedURDF()); err != nil {
					return Failed(fmt.Errorf("shipped URDF: %w", err))
				}
			} else if m, err = robot.LoadURDF(urdfPath); err != nil {
				return fmt.Errorf("--urdf: %w", err)
			}
			b := base
			if b == "" {
				b = m.Root
			}
			c, err := m.Chain(b, tip)
			if err != nil {
				return fmt.Errorf("--base/--tip: %w", err)
			}
			q, err := parseQ(qText, c)
			if err != nil {
				return err
			}
			var p robot.Pose
			c.FK(q, &p)
			out := fkOutput{Position: p.P, Rotation: p.R, Quaternion: p.Quaternion()}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(out)
			}
			fmt.Fprintf(w, "%s in %s frame at q = %v (joints %v)\n", c.Tip(), c.Base(), q, c.JointNames())
			fmt.Fprintf(w, "position   %.6f %.6f %.6f m\n", p.P[0], p.P[1], p.P[2])
			for i, row := range p.R {
				label := "          "
				if i == 0 {
					label = "rotation  "
				}
				fmt.Fprintf(w, "%s %9.6f %9.6f %9.6f\n", label, row[0], row[1], row[2])
			}
			qt := out.Quaternion
			fmt.Fprintf(w, "quaternion %.6f %.6f %.6f %.6f (x y z w)\n", qt[0], qt[1], qt[2], qt[3])
			return nil
		},
	}
	f := fk.Flags()
	f.StringVar(&urdfPath, "urdf", "", "URDF file (default: the shipped robot/urdf/catcher.urdf)")
	f.StringVar(&base, "base", "", "chain base link (default: the URDF's root link)")
	f.StringVar(&tip, "tip", robot.DefaultTipLink, "chain tip link")
	f.StringVar(&qText, "q", "", "joint positions, comma-separated, one per movable joint")
	f.BoolVar(&asJSON, "json", false, "print JSON {position, rotation, quaternion}")
	kin.AddCommand(fk)
	return kin
}

// parseQ reads --q and checks it has one finite value per joint of c.
func parseQ(text string, c *robot.Chain) ([]float64, error) {
	want := func() string {
		return fmt.Sprintf("want %d values for joints %s", c.DOF(), strings.Join(c.JointNames(), ","))
	}
	var fields []string
	if strings.TrimSpace(text) != "" {
		fields = strings.Split(text, ",")
	}
	if len(fields) != c.DOF() {
		return nil, fmt.Errorf("--q has %d values, %s", len(fields), want())
	}
	q := make([]float64, len(fields))
	for i, s := range fields {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("--q value %d (%s) is %q, want a finite number", i+1, c.JointNames()[i], s)
		}
		q[i] = v
	}
	return q, nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/hardware/calib"
	"github.com/agilecatch/catch/perception/camera"
)

// parseBoard reads "9x6" (inner corners: columns x rows).
func parseBoard(s string, square float64) (calib.Board, error) {
	c, r, ok := strings.Cut(strings.ToLower(s), "x")
	cols, err1 := strconv.Atoi(c)
	rows, err2 := strconv.Atoi(r)
	if !ok || err1 != nil || err2 != nil {
		return calib.Board{}, fmt.Errorf("--board %q: want COLSxROWS inner corners, e.g. 9x6", s)
	}
	b := calib.Board{Cols: cols, Rows: rows, SquareM: square}
	return b, b.Validate()
}

func globFiles(flag, pattern string) ([]string, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, pattern, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s %q: no file matches", flag, pattern)
	}
	return files, nil
}

func parseFloats(flag, s string, n int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("%s %q: want %d comma-separated numbers", flag, s, n)
	}
	out := make([]float64, n)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, s, err)
		}
		out[i] = v
	}
	return out, nil
}

type intrinsicsJSON struct {
	ImagesUsed int       `json:"images_used"`
	RMSPx      float64   `json:"rms_px"`
	Fx         float64   `json:"fx"`
	Fy         float64   `json:"fy"`
	Cx         float64   `json:"cx"`
	Cy         float64   `json:"cy"`
	Distortion []float64 `json:"distortion"`
	Skipped    []string  `json:"skipped,omitempty"`
	Unreadable []string  `json:"unreadable,omitempty"`
	// HeldOutRMSPx: the last used image's reprojection under a
	// calibration of the others.
	HeldOutRMSPx float64  `json:"held_out_rms_px"`
	Warnings     []string `json:"warnings,omitempty"`
}

func intrinsicsOut(r *calib.Intrinsic) intrinsicsJSON {
	in := r.Intrinsics
	nd := 5
	if in.Model == camera.RationalPolynomial {
		nd = 8
	}
	return intrinsicsJSON{ImagesUsed: len(r.Used), RMSPx: r.RMSPx, Fx: in.K[0], Fy: in.K[4], Cx: in.K[2], Cy: in.K[5],
		Distortion: append([]float64(nil), in.D[:nd]...), Skipped: r.Skipped, Unreadable: r.Unreadable,
		HeldOutRMSPx: r.HeldOutRMSPx, Warnings: r.Warnings}
}

func writeCameraInfo(path, name string, in camera.Intrinsics) error {
	if path == "" {
		return nil
	}
	data, err := in.MarshalCameraInfo(name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

func init() {
	cal := &cobra.Command{
		Use:   "calibrate",
		Short: "Camera calibration from chessboard images: intrinsics, stereo pair, world pose",
		Long: `Chessboard calibration with OpenCV (hardware/calib). Boards are given as
inner corners COLSxROWS (OpenCV's samples: 9x6) and the square size in m.
'intrinsics' writes a ROS camera_info YAML; 'stereo' the relative pose of a
pair; 'world' a camera's pose from one image of a board at a measured world
pose, and with --rig adds the camera to a rig file (perception/camera).`,
	}
	var (
		images, boardS, out, name string
		square                    float64
		asJSON                    bool
	)
	intr := &cobra.Command{
		Use:   "intrinsics --images GLOB --board 9x6 --square 0.025 --out cam.yaml [--json]",
		Short: "Camera matrix and distortion (plumb_bob) → ROS camera_info YAML",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := parseBoard(boardS, square)
			if err != nil {
				return err
			}
			files, err := globFiles("--images", images)
			if err != nil {
				return err
			}
			r, err := calib.Intrinsics(files, b, calib.Options{})
			if errors.Is(err, calib.ErrInput) {
				return err
			}
			if err != nil {
				return failed(err)
			}
			if err := writeCameraInfo(out, name, r.Intrinsics); err != nil {
				return err
			}
			o := intrinsicsOut(r)
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(o)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %d images used, rms %.4f px (held-out image %.4f px)\nfx %.3f  fy %.3f  cx %.3f  cy %.3f\ndistortion (k1 k2 p1 p2 k3) %v\n",
				o.ImagesUsed, len(files), o.RMSPx, o.HeldOutRMSPx, o.Fx, o.Fy, o.Cx, o.Cy, o.Distortion)
			for _, m := range o.Warnings {
				fmt.Fprintf(cmd.OutOrStdout(), "warning: %s\n", m)
			}
			if out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			}
			return nil
		},
	}
	f := intr.Flags()
	f.StringVar(&images, "images", "", "image files (a glob, quoted)")
	f.StringVar(&boardS, "board", "9x6", "inner corners COLSxROWS")
	f.Float64Var(&square, "square", 0.025, "square side, m")
	f.StringVar(&out, "out", "", "write the ROS camera_info YAML here")
	f.StringVar(&name, "name", "camera", "camera_name in the YAML")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	cal.AddCommand(intr)

	var leftG, rightG, outL, outR string
	var sJSON bool
	stereo := &cobra.Command{
		Use:   "stereo --left GLOB --right GLOB --board 9x6 --square 0.025 [--out-left l.yaml --out-right r.yaml] [--json]",
		Short: "Relative pose of a stereo pair (baseline) from image pairs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := parseBoard(boardS, square)
			if err != nil {
				return err
			}
			l, err := globFiles("--left", leftG)
			if err != nil {
				return err
			}
			r, err := globFiles("--right", rightG)
			if err != nil {
				return err
			}
			st, err := calib.StereoPair(l, r, b, calib.Options{})
			if errors.Is(err, calib.ErrInput) {
				return err
			}
			if err != nil {
				return failed(err)
			}
			if err := writeCameraInfo(outL, "left", st.Left.Intrinsics); err != nil {
				return err
			}
			if err := writeCameraInfo(outR, "right", st.Right.Intrinsics); err != nil {
				return err
			}
			o := struct {
				Pairs        int            `json:"pairs"`
				BaselineM    float64        `json:"baseline_m"`
				BaselineStdM float64        `json:"baseline_std_m"`
				RotSpreadDeg float64        `json:"rotation_spread_deg"`
				T            [3]float64     `json:"t_right_from_left_m"`
				Q            [4]float64     `json:"q_right_from_left"`
				Left         intrinsicsJSON `json:"left"`
				Right        intrinsicsJSON `json:"right"`
				Warnings     []string       `json:"warnings,omitempty"`
			}{st.Pairs, st.BaselineM, st.BaselineStdM, st.RotSpreadDeg, st.RightFromLeft.T, st.RightFromLeft.Quat(), intrinsicsOut(st.Left), intrinsicsOut(st.Right), st.Warnings}
			if sJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(o)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d pairs: baseline %.4f m (std %.4f m), T %.4f m, rotation spread %.2f°; rms left %.3f px, right %.3f px\n",
				o.Pairs, o.BaselineM, o.BaselineStdM, o.T, o.RotSpreadDeg, o.Left.RMSPx, o.Right.RMSPx)
			for _, m := range o.Warnings {
				fmt.Fprintf(cmd.OutOrStdout(), "warning: %s\n", m)
			}
			return nil
		},
	}
	g := stereo.Flags()
	g.StringVar(&leftG, "left", "", "left images (glob; paired with --right by sorted name)")
	g.StringVar(&rightG, "right", "", "right images (glob)")
	g.StringVar(&boardS, "board", "9x6", "inner corners COLSxROWS")
	g.Float64Var(&square, "square", 0.025, "square side, m")
	g.StringVar(&outL, "out-left", "", "write the left camera_info YAML here")
	g.StringVar(&outR, "out-right", "", "write the right camera_info YAML here")
	g.BoolVar(&sJSON, "json", false, "print JSON")
	cal.AddCommand(stereo)

	var camInfo, image, boardPose, rigPath, camName string
	var wJSON bool
	world := &cobra.Command{
		Use:   "world --camera cam.yaml --image board.png --board 9x6 --square 0.025 --board-pose x,y,z,qx,qy,qz,qw [--rig rig.yaml --name cam0]",
		Short: "A camera's pose in the world from a board at a measured world pose",
		Long: `The board pose is its first inner corner's position in the world (m) and its
orientation (quaternion qx,qy,qz,qw): board x along the rows of corners, y
down the columns, z into the board. With --rig the camera (named --name) is
added to that rig file, or replaces the camera of that name (the file is
created when missing).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := parseBoard(boardS, square)
			if err != nil {
				return err
			}
			in, _, err := camera.LoadCameraInfo(camInfo)
			if err != nil {
				return err
			}
			v, err := parseFloats("--board-pose", boardPose, 7)
			if err != nil {
				return err
			}
			bp, err := calib.PoseFromQuat([3]float64{v[0], v[1], v[2]}, [4]float64{v[3], v[4], v[5], v[6]})
			if err != nil {
				return err
			}
			w, err := calib.WorldPose(in, image, b, bp)
			if err != nil {
				return failed(err)
			}
			cam, err := w.Camera(camName, in)
			if err != nil {
				return err
			}
			if rigPath != "" {
				if err := os.MkdirAll(filepath.Dir(rigPath), 0o755); err != nil {
					return err
				}
				rig := &camera.Rig{}
				if _, serr := os.Stat(rigPath); serr == nil {
					if rig, err = camera.LoadRig(rigPath); err != nil {
						return err
					}
				}
				replaced := false
				for i, c := range rig.Cameras {
					if c.Name == camName {
						rig.Cameras[i], replaced = cam, true
					}
				}
				if !replaced {
					rig.Cameras = append(rig.Cameras, cam)
				}
				if err := rig.Save(rigPath); err != nil {
					return err
				}
			}
			o := struct {
				Position    [3]float64 `json:"position"`
				Orientation [4]float64 `json:"orientation"`
				RMSPx       float64    `json:"rms_px"`
			}{cam.Position, cam.Orientation, w.RMSPx}
			if wJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(o)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "camera %s: position %.4f m, orientation (qx qy qz qw) %.5f, rms %.3f px\n", camName, o.Position, o.Orientation, o.RMSPx)
			return nil
		},
	}
	h := world.Flags()
	h.StringVar(&camInfo, "camera", "", "the camera's camera_info YAML (from 'calibrate intrinsics')")
	h.StringVar(&image, "image", "", "image of the board from this camera")
	h.StringVar(&boardS, "board", "9x6", "inner corners COLSxROWS")
	h.Float64Var(&square, "square", 0.025, "square side, m")
	h.StringVar(&boardPose, "board-pose", "", "board pose in the world: x,y,z,qx,qy,qz,qw")
	h.StringVar(&rigPath, "rig", "", "add the placed camera to this rig file")
	h.StringVar(&camName, "name", "cam0", "camera name in the rig")
	h.BoolVar(&wJSON, "json", false, "print JSON")
	cal.AddCommand(world)
	root.AddCommand(cal)
}

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/forecast"
	"github.com/agilecatch/catch/perception/ballnet"
	"github.com/agilecatch/catch/perception/vision"
)

// detectorMeta is the training record stored in the model file: only what
// the bytes depend on (no build or time), so that the same command writes
// the same file.
type detectorMeta struct {
	Command     string              `json:"command"`
	Seed        uint64              `json:"seed"`
	Backgrounds []string            `json:"backgrounds"` // photo file names; "" is the generated scene
	Frames      int                 `json:"frames_per_background"`
	Jitter      int                 `json:"jitter"`
	Train       ballnet.TrainConfig `json:"train"`
	Crops       vision.CropStats    `json:"crops"`
}

// heldOutCheck is the trained model on crops rendered over the held-out
// photographs (never trained on).
type heldOutCheck struct {
	Ball      int     `json:"ball_crops"`
	Other     int     `json:"other_crops"`
	BallAcc   float64 `json:"ball_scored_over_half"`
	OtherAcc  float64 `json:"other_scored_under_half"`
	BallP05   float64 `json:"ball_score_p05"`
	OtherP95  float64 `json:"other_score_p95"`
	AUC       float64 `json:"auc"`
	BgFrames  int     `json:"frames_per_background"`
	BgSetName string  `json:"background_set"`
}

func init() {
	var (
		out                  string
		seed                 uint64
		frames, jitter, hoFr int
		tc                   ballnet.TrainConfig
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "detector",
		Short: "Train the detector's candidate classifier (a small CNN) and export it to ONNX",
		Long: `Renders stereo frames over the training photographs (background set "train")
and the generated scene, with the lab clutter, the ball at random places of the
flight volume; runs the colour detector (no motion cue, no classifier) and
labels each candidate's crop ball or not by the ball's true image; trains the
ballnet CNN (perception/ballnet) on them in Go, single-threaded and seeded, and
writes FILE.onnx with the training record in its metadata. The same arguments
write the same bytes. The held-out photographs are used only afterwards, to
report how the model scores crops rendered over them.

The shipped model is made by
  catch train detector --seed 1 --out perception/models/ball.onnx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || !strings.HasSuffix(out, ".onnx") {
				return fmt.Errorf("--out %q: want a FILE.onnx path", out)
			}
			if frames < 1 || frames > 10000 || jitter < 0 || jitter > 100 || hoFr < 0 || hoFr > 10000 {
				return fmt.Errorf("--frames %d, --jitter %d, --heldout-frames %d: want 1..10000, 0..100, 0..10000", frames, jitter, hoFr)
			}
			tc.Seed = seed
			if err := tc.Validate(); err != nil {
				return err
			}
			tc = tc.WithDefaults()
			photos, err := vision.BackgroundSet("train")
			if err != nil {
				return err
			}
			start := time.Now()
			bgs := append([]string{""}, photos...)
			vision.SetOpenCVThreads(1)
			log := cmd.ErrOrStderr()
			s, st, err := vision.TrainingCrops(vision.CropSetConfig{Backgrounds: bgs, Frames: frames, Jitter: jitter, Seed: seed}, func(done, total int) {
				fmt.Fprintf(log, "train detector: rendered %d/%d backgrounds\n", done, total)
			})
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(log, "train detector: %d crops (%d ball before jitter, %d other, %d on clutter balls left out)\n", s.Len(), st.Ball, st.Other, st.Skipped)
			net, rep, err := ballnet.Train(s, tc, func(ep int, loss float64) {
				if ep%5 == 0 || ep == tc.Epochs {
					fmt.Fprintf(log, "train detector: epoch %d/%d loss %.4f\n", ep, tc.Epochs, loss)
				}
			})
			if err != nil {
				return failed(err)
			}
			meta := detectorMeta{Command: fmt.Sprintf("catch train detector --seed %d --frames %d --jitter %d --epochs %d --c1 %d --c2 %d --batch %d --lr %g",
				seed, frames, jitter, tc.Epochs, tc.C1, tc.C2, tc.Batch, tc.LR),
				Seed: seed, Frames: frames, Jitter: jitter, Train: tc, Crops: st}
			for _, b := range bgs {
				meta.Backgrounds = append(meta.Backgrounds, filepath.Base(b))
			}
			meta.Backgrounds[0] = ""
			mj, err := json.Marshal(meta)
			if err != nil {
				return failed(err)
			}
			model, err := net.ONNX(string(mj))
			if err != nil {
				return failed(err)
			}
			if err := forecast.WriteFileAtomic(out, model); err != nil {
				return failed(err)
			}
			var ho *heldOutCheck
			if hoFr > 0 {
				if ho, err = checkHeldOut(net, hoFr, seed); err != nil {
					return failed(err)
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(map[string]any{"out": out, "bytes": len(model), "meta": meta, "train": rep, "heldout": ho,
					"seconds": time.Since(start).Seconds(), "provenance": record(nil, seed)})
			}
			fmt.Fprintf(w, "wrote %s (%d bytes, %d parameters; %d crops: %d ball incl. jitter, %d other; %s)\n",
				out, len(model), rep.Params, s.Len(), rep.Ball, rep.Other, time.Since(start).Round(time.Second))
			fmt.Fprintf(w, "  training crops: ball scored > 0.5 %.2f%%, other < 0.5 %.2f%%, final loss %.4f\n", 100*rep.BallAcc, 100*rep.OtherAcc, rep.Loss)
			if ho != nil {
				fmt.Fprintf(w, "  held-out crops (%s, %d frames each, never trained on): %d ball, %d other; ball > 0.5 %.2f%%, other < 0.5 %.2f%%; ball p05 %.3f, other p95 %.3f; AUC %.4f\n",
					ho.BgSetName, ho.BgFrames, ho.Ball, ho.Other, 100*ho.BallAcc, 100*ho.OtherAcc, ho.BallP05, ho.OtherP95, ho.AUC)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output model FILE.onnx")
	f.Uint64Var(&seed, "seed", 1, "seed of the renders, the initial weights and the minibatches")
	f.IntVar(&frames, "frames", 24, "stereo frames rendered per background")
	f.IntVar(&jitter, "jitter", 3, "extra jittered crops per ball crop")
	f.IntVar(&hoFr, "heldout-frames", 6, "after training, score crops of this many stereo frames per held-out photograph (0: skip)")
	f.IntVar(&tc.Epochs, "epochs", 30, "passes over the crops")
	f.IntVar(&tc.C1, "c1", 8, "channels of the first convolution")
	f.IntVar(&tc.C2, "c2", 16, "channels of the second convolution")
	f.IntVar(&tc.Batch, "batch", 64, "crops per Adam step")
	f.Float64Var(&tc.LR, "lr", 0.003, "Adam step size (decayed linearly to a tenth)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	trainParent().AddCommand(cmd)
}

// checkHeldOut scores, with the Go forward pass (ONNX Runtime gives the
// same to float32 rounding: perception/vision's tests), crops rendered over
// the held-out photographs with a seed the training did not use.
func checkHeldOut(net *ballnet.Net, frames int, seed uint64) (*heldOutCheck, error) {
	photos, err := vision.BackgroundSet("heldout")
	if err != nil {
		return nil, err
	}
	s, _, err := vision.TrainingCrops(vision.CropSetConfig{Backgrounds: photos, Frames: frames, Jitter: -1, Seed: seed + 1000}, nil)
	if err != nil {
		return nil, err
	}
	ho := &heldOutCheck{BgFrames: frames, BgSetName: "heldout"}
	var pos, neg []float64
	for k := 0; k < s.Len(); k++ {
		z := net.Logit(s.X[k*ballnet.In : (k+1)*ballnet.In])
		p := 1 / (1 + math.Exp(-z))
		if s.Y[k] == 1 {
			pos = append(pos, p)
		} else {
			neg = append(neg, p)
		}
	}
	ho.Ball, ho.Other = len(pos), len(neg)
	ho.BallAcc, ho.OtherAcc, ho.AUC = ballnet.Separation(pos, neg)
	sort.Float64s(pos)
	sort.Float64s(neg)
	if len(pos) > 0 {
		ho.BallP05 = pos[len(pos)*5/100]
	}
	if len(neg) > 0 {
		ho.OtherP95 = neg[len(neg)*95/100]
	}
	return ho, nil
}

package bench

import (
	"bytes"
	"encoding/csv"
	"strconv"

	"github.com/agilecatch/catch/sim"
)

// TrialColumns are the columns of trials.csv, one row per trial of every
// (controller, scenario) pair, in results.json's pair order and trial
// order. Units are in the names; booleans are true/false; empty cells mean
// "not applicable" (catch time and side of a miss).
var TrialColumns = []string{
	"controller", "scenario", "seed", "trial", "yaw_deg", "horizontal_speed_mps", "flight_time_s",
	"arrival_speed_mps", "arrival_y_m", "arrival_z_m", "catchable", "caught", "failure", "catch_time_s",
	"side", "miss_distance_m", "align_cos", "in_pocket_s", "limit_violations", "rim_hits", "pocket_exits",
	"controller_steps",
}

// writeTrialsCSV writes trials.csv: a provenance comment line, the header
// (TrialColumns) and one row per trial.
func writeTrialsCSV(path string, r *Results) error {
	var b bytes.Buffer
	b.WriteString(r.Provenance.Comment())
	w := csv.NewWriter(&b)
	_ = w.Write(TrialColumns)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, e := range r.Entries {
		for i := range e.results {
			t := &e.results[i]
			ct := ""
			if t.Caught {
				ct = f(t.CatchTimeS)
			}
			_ = w.Write([]string{
				e.Controller, e.Scenario, strconv.FormatUint(r.Seed, 10), strconv.Itoa(t.Index), f(t.YawDeg),
				f(t.HorizontalSpeed), f(t.FlightTimeS), f(t.ArrivalSpeed), f(t.ArrivalY), f(t.ArrivalZ),
				strconv.FormatBool(t.Catchable), strconv.FormatBool(t.Caught), t.FailureReason(), ct, t.Side,
				f(t.MissDistanceM), f(t.AlignCos), f(t.InPocketS), strconv.Itoa(t.LimitViolations),
				strconv.Itoa(t.RimHits), strconv.Itoa(t.PocketExits), strconv.Itoa(t.Steps),
			})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return writeAtomic(path, b.Bytes())
}

// failureOrder lists the failure reasons in the report's column order.
var failureOrder = []string{sim.FailMissed, sim.FailNotHeld, sim.FailRim, sim.FailHitArm, sim.FailBouncedOut, sim.FailDropped,
	sim.FailControllerError, sim.FailPhysics, sim.FailUncatchable}

package serve

import (
	"testing"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// /healthz shows the index's calibration and its setting as the defaults,
// and a search without alpha or fusion uses them; without one it shows the
// built-in defaults and no calibration.
func TestHealthzCalibration(t *testing.T) {
	svc := newService(t, true, nil)
	_, ts := newTestServer(t, svc, Options{})
	var h Health
	call(t, ts, "GET", "/healthz", nil).json(t, &h)
	if h.Calibration != nil || h.Alpha != search.DefaultAlpha || h.Fusion != search.DefaultFusion || h.RRFK != 0 {
		t.Errorf("uncalibrated healthz %+v", h)
	}
	ix := svc.Backend.(*embedded.Index)
	ix.SetCalibration(&fusion.Calibration{Fusion: search.FusionRRF, Alpha: 0.2, K: 10, Source: "pseudo-queries", N: 300,
		Candidates: []fusion.Candidate{{Fusion: search.FusionRelative, Score: 0.5}}})
	// NewService follows the index: a calibration stored later (a reload) is used.
	call(t, ts, "GET", "/healthz", nil).json(t, &h)
	if h.Calibration == nil || h.Alpha != 0.2 || h.Fusion != search.FusionRRF || h.RRFK != 10 || len(h.Calibration.Candidates) != 1 {
		t.Errorf("calibrated healthz %+v", h)
	}
	r := search_(t, ts, search.Request{Query: "두통"})
	if r.Alpha != 0.2 || r.Fusion != search.FusionRRF {
		t.Errorf("search defaults: alpha %v fusion %s", r.Alpha, r.Fusion)
	}
}

package serve

import (
	"bytes"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
)

// indexPage is web/index.html as an html/template: the server renders its
// defaults (alpha, fusion, safety, whether it has a dense model) and the
// search in the page's URL into the form, so the page is right before
// app.js has loaded and without JavaScript. Every value goes through
// html/template's contextual escaping.
var indexPage = template.Must(template.ParseFS(webFiles, "web/index.html"))

// webDURTypes are the DUR types the page offers to exclude, in its order.
var webDURTypes = []string{dur.TypePregnancy, dur.TypeElderly, dur.TypeAge, dur.TypeCombination,
	dur.TypeDose, dur.TypeDuration, dur.TypeDuplicate, dur.TypeSplit, dur.TypeLactation}

// webPage is what index.html is rendered from.
type webPage struct {
	// The server's defaults, also in <body data-…> for app.js.
	Dense         bool
	DefaultMode   string
	DefaultAlpha  string // as the slider's value: 0.4
	DefaultFusion string
	DefaultSafety string

	// The search in the URL (the parameter names of GET /v1/search),
	// or the defaults where it names none or an invalid one.
	Query     string
	Mode      string
	Alpha     string
	AlphaText string // 0.40, for the <output>
	Safety    string
	Type      string // filter.type
	Class     string // filter.class
	Exclude   []webCheck
}

// webCheck is one checkbox.
type webCheck struct {
	Value   string
	Checked bool
}

// page returns what index.html is rendered from for a request to /.
// Parameters the page does not understand, or values the service would
// refuse, fall back to the defaults here; app.js sends the search as the
// URL has it, so the API answers them.
func (s *Server) page(vals url.Values) webPage {
	p := webPage{
		Dense:         s.svc.Dense(),
		DefaultMode:   search.ModeBM25,
		DefaultSafety: s.svc.Safety,
	}
	alpha, fusion, _, _ := s.svc.Defaults() // the index's calibration, if any
	p.DefaultFusion = fusion
	if p.Dense {
		p.DefaultMode = search.ModeHybrid
	}
	if p.DefaultSafety == "" {
		p.DefaultSafety = search.SafetyFlag
	}
	p.DefaultAlpha = strconv.FormatFloat(alpha, 'f', -1, 64)
	p.Query = strings.TrimSpace(vals.Get("q"))
	if p.Query == "" {
		p.Query = strings.TrimSpace(vals.Get("query"))
	}
	p.Mode = p.DefaultMode
	switch m := vals.Get("mode"); m {
	case search.ModeDense, search.ModeHybrid:
		if p.Dense {
			p.Mode = m
		}
	case search.ModeBM25:
		p.Mode = m
	}
	if a, err := strconv.ParseFloat(vals.Get("alpha"), 64); err == nil && a >= 0 && a <= 1 && !math.IsNaN(a) {
		alpha = a
	}
	p.Alpha = strconv.FormatFloat(alpha, 'f', -1, 64)
	p.AlphaText = strconv.FormatFloat(alpha, 'f', 2, 64)
	p.Safety = p.DefaultSafety
	switch v := vals.Get("safety"); v {
	case search.SafetyFlag, search.SafetyStrict, search.SafetyOff:
		p.Safety = v
	}
	p.Type = vals.Get("filter.type")
	p.Class = vals.Get("filter.class")
	excluded := map[string]bool{}
	for _, v := range vals["exclude_dur"] {
		for _, t := range strings.Split(v, ",") {
			excluded[strings.TrimSpace(t)] = true
		}
	}
	for _, t := range webDURTypes {
		p.Exclude = append(p.Exclude, webCheck{Value: t, Checked: excluded[t]})
	}
	return p
}

// renderIndex renders index.html for r.
func (s *Server) renderIndex(r *http.Request) ([]byte, error) {
	vals, _ := url.ParseQuery(r.URL.RawQuery) // what parses of a malformed query
	var buf bytes.Buffer
	if err := indexPage.Execute(&buf, s.page(vals)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

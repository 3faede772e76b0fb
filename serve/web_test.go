package serve

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kormed/kormed/search"
)

// chromiumPath is Debian's chromium; the browser test skips without it.
const chromiumPath = "/usr/bin/chromium"

// pollTimeout bounds each wait for the page (a search, the page ready):
// generous, since a loaded CI machine starts Chromium slowly.
const pollTimeout = 20 * time.Second

// TestWebPage drives the web page in headless Chromium: a search typed
// into the box, the expected product first with highlighted terms, a class
// filter, a DUR warning for a pregnancy query, a mode switch, a shared
// URL, the BM25-only page; it saves a screenshot to testdata/out/ (or
// $KORMED_SCREENSHOT_DIR).
func TestWebPage(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s not found (install it with 'apt-get install -y chromium')", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	_, ts := newTestServer(t, newService(t, true, nil), Options{})
	_, bm25Only := newTestServer(t, newService(t, false, nil), Options{})

	// The closed network refuses Chromium's own connections (updates,
	// sync, QUIC probes); these flags keep it from trying.
	profile, err := os.MkdirTemp("", "kormed-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "ko-KR"),
		chromedp.WindowSize(1100, 1300),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	// Console errors, uncaught exceptions and browser log errors (CSP
	// violations, failed loads) fail the test.
	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				problems = append(problems, fmt.Sprintf("console.error: %v", ev.Args))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})

	seq := 0
	// searched waits until the page finished its next search.
	searched := func() chromedp.Action {
		seq++
		var ok bool
		return chromedp.Poll(fmt.Sprintf(`document.getElementById('results').dataset.seq === '%d'`, seq), &ok,
			chromedp.WithPollingTimeout(pollTimeout))
	}
	var titles, marks, classes []string
	readHits := chromedp.Tasks{
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results .title'), e => e.textContent)`, &titles),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results mark'), e => e.textContent)`, &marks),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results .hit'), li => { const d = li.querySelector('dd.f-class'); return d ? d.textContent : '' })`, &classes),
	}
	selectValue := func(sel, value string) chromedp.Action {
		return chromedp.Evaluate(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value })()`, sel, value), nil)
	}

	// 1. Type a question, press Enter: 타이레놀 first, terms highlighted,
	// the search in the URL.
	var placeholder, loc, title string
	var classOptions []string
	err = chromedp.Run(ctx,
		log.Enable(),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#q", chromedp.ByID),
		chromedp.Poll(`document.body.dataset.ready === '1'`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.AttributeValue("#q", "placeholder", &placeholder, nil, chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#f-class option'), o => o.textContent)`, &classOptions),
		chromedp.SendKeys("#q", "열을 내리는 약"+kb.Enter, chromedp.ByID),
		searched(),
		readHits,
		chromedp.Location(&loc),
		chromedp.Title(&title),
	)
	if err != nil {
		t.Fatalf("first search: %v (problems: %v)", err, problems)
	}
	if want := ts.URL + "/?q=" + url.QueryEscape("열을 내리는 약") + "&mode=hybrid&alpha=0.4"; loc != want || title != "열을 내리는 약 — kormed 의약품 검색" {
		t.Errorf("after a search: location %s, title %q; want %s", loc, title, want)
	}
	if placeholder != "예: 열을 내리는 약은?" {
		t.Errorf("placeholder %q", placeholder)
	}
	if !slices.Equal(classOptions, []string{"전체 (all)", "일반 (7)", "전문 (3)"}) {
		t.Errorf("class menu from /v1/facets: %v", classOptions)
	}
	if len(titles) == 0 || titles[0] != "타이레놀정500밀리그램" {
		t.Fatalf("results %v, want 타이레놀정500밀리그램 first", titles)
	}
	if len(marks) == 0 {
		t.Errorf("no <mark> in the snippets")
	}
	all := len(titles)
	t.Logf("열을 내리는 약: %d hits %v, marks %v", all, titles, marks)

	// 2. The class filter 전문 keeps only prescription products.
	err = chromedp.Run(ctx, selectValue("#f-class", "전문"), searched(), readHits, chromedp.Location(&loc))
	if err != nil {
		t.Fatal(err)
	}
	if len(titles) == 0 || len(titles) >= all || slices.ContainsFunc(classes, func(c string) bool { return c != "전문" }) {
		t.Errorf("class 전문: %v classes %v (unfiltered %d hits)", titles, classes, all)
	}
	if !strings.Contains(loc, "filter.class="+url.QueryEscape("전문")) {
		t.Errorf("the URL does not keep the filter: %s", loc)
	}
	err = chromedp.Run(ctx, selectValue("#f-class", "일반"), searched(), readHits)
	if err != nil {
		t.Fatal(err)
	}
	if len(titles) == 0 || slices.ContainsFunc(classes, func(c string) bool { return c != "일반" }) || titles[0] != "타이레놀정500밀리그램" {
		t.Errorf("class 일반: %v classes %v", titles, classes)
	}

	// 3. A pregnancy question flags 부루펜 with the rule that fired.
	var badges, whys, rules []string
	err = chromedp.Run(ctx,
		selectValue("#f-class", ""), searched(),
		chromedp.Evaluate(`document.getElementById('q').value = ''`, nil),
		chromedp.SendKeys("#q", "임산부 두통약"+kb.Enter, chromedp.ByID),
		searched(),
		readHits,
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results .badge.warn'), e => e.closest('.hit').querySelector('.title').textContent + ': ' + e.textContent)`, &badges),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results .warning .why'), e => e.textContent)`, &whys),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#summary .rule'), e => e.textContent)`, &rules),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(badges, []string{"부루펜정200밀리그램: ⚠ 임부금기"}) || !slices.Equal(whys, []string{"‘임산부’ → 임부금기 표시"}) ||
		len(rules) != 1 || !strings.HasPrefix(rules[0], "‘임산부’ → 임부금기 표시") {
		t.Errorf("DUR warning: badges %v, why %v, rules %v (hits %v)", badges, whys, rules, titles)
	}
	// Screenshot of the flagged results.
	var shot []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&shot, 100)); err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "web-pregnancy.png", shot, 800)
	t.Logf("임산부 두통약: hits %v, marks %v", titles, marks)

	// 4. Switch to BM25: the page searches again, every hit from BM25.
	var mode string
	var parts []string
	err = chromedp.Run(ctx,
		chromedp.Click("#mode-bm25", chromedp.ByID),
		searched(),
		chromedp.AttributeValue("#summary-line", "data-mode", &mode, nil, chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#results .part'), e => e.textContent)`, &parts),
		chromedp.Location(&loc),
	)
	if err != nil {
		t.Fatal(err)
	}
	if mode != "bm25" || len(parts) == 0 || slices.ContainsFunc(parts, func(p string) bool { return !strings.HasPrefix(p, "BM25 #") }) {
		t.Errorf("bm25 mode: summary mode %q, parts %v", mode, parts)
	}
	if !strings.Contains(loc, "mode=bm25") {
		t.Errorf("the URL does not keep the mode: %s", loc)
	}

	// Back returns to the previous search (the mode switch replaced the
	// history entry, the new query pushed one), Forward to the last.
	var q, checked string
	readState := chromedp.Tasks{
		chromedp.Value("#q", &q, chromedp.ByID),
		chromedp.Evaluate(`document.querySelector('input[name=mode]:checked').value`, &checked),
		chromedp.AttributeValue("#summary-line", "data-mode", &mode, nil, chromedp.ByID),
	}
	err = chromedp.Run(ctx, chromedp.Evaluate(`history.back()`, nil), searched(), readState, readHits)
	if err != nil {
		t.Fatal(err)
	}
	if q != "열을 내리는 약" || checked != "hybrid" || mode != "hybrid" || len(titles) == 0 || titles[0] != "타이레놀정500밀리그램" {
		t.Errorf("back: q %q mode %q/%q hits %v", q, checked, mode, titles)
	}
	err = chromedp.Run(ctx, chromedp.Evaluate(`history.forward()`, nil), searched(), readState)
	if err != nil {
		t.Fatal(err)
	}
	if q != "임산부 두통약" || checked != "bm25" || mode != "bm25" {
		t.Errorf("forward: q %q mode %q/%q", q, checked, mode)
	}

	// The same page on a phone-sized screen.
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.FullScreenshot(&shot, 100),
		chromedp.EmulateReset(),
	)
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "web-mobile.png", shot, 390)

	// 5. A shared URL restores the search, the filter and the alpha.
	var class, alpha string
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/?q="+url.QueryEscape("두통")+"&mode=hybrid&alpha=0.8&filter.class="+url.QueryEscape("일반")),
		chromedp.Poll(`document.getElementById('results').dataset.seq === '1'`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Value("#q", &q, chromedp.ByID),
		chromedp.Value("#f-class", &class, chromedp.ByID),
		chromedp.Value("#alpha", &alpha, chromedp.ByID),
		readHits,
	)
	if err != nil {
		t.Fatal(err)
	}
	if q != "두통" || class != "일반" || alpha != "0.8" || len(titles) == 0 || slices.ContainsFunc(classes, func(c string) bool { return c != "일반" }) {
		t.Errorf("shared URL: q %q class %q alpha %q hits %v classes %v", q, class, alpha, titles, classes)
	}

	// A URL as GET /v1/search takes it runs that search on load.
	var alphaOff bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/?q="+url.QueryEscape("해열제")+"&mode=bm25&alpha=0.3"),
		chromedp.Poll(`document.getElementById('results').dataset.seq === '1'`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		readState,
		chromedp.Value("#alpha", &alpha, chromedp.ByID),
		chromedp.Evaluate(`document.getElementById('alpha').disabled`, &alphaOff),
		chromedp.Title(&title),
		readHits,
	)
	if err != nil {
		t.Fatal(err)
	}
	if q != "해열제" || checked != "bm25" || mode != "bm25" || alpha != "0.3" || !alphaOff || len(titles) == 0 || title != "해열제 — kormed 의약품 검색" {
		t.Errorf("?q=해열제&mode=bm25&alpha=0.3: q %q mode %q/%q alpha %q (disabled %v) title %q hits %v", q, checked, mode, alpha, alphaOff, title, titles)
	}

	// Markup in the URL stays text: the query box holds it as typed and
	// no element is injected (an inline script would also be a CSP error).
	attack := `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`
	var elems int
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/?q="+url.QueryEscape(attack)+"&filter.class="+url.QueryEscape(attack)),
		chromedp.Poll(`document.getElementById('results').dataset.seq === '1'`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Value("#q", &q, chromedp.ByID),
		chromedp.Value("#f-class", &class, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll('img, script').length`, &elems),
	)
	if err != nil {
		t.Fatal(err)
	}
	if q != attack || class != attack || elems != 1 {
		t.Errorf("markup in the URL: q %q class %q, %d img/script elements (want app.js only)", q, class, elems)
	}

	// 6. A BM25-only server: dense and hybrid disabled, with a note.
	var denseOff, hybridOff, noteHidden bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(bm25Only.URL+"/?q="+url.QueryEscape("판콜에이내복액")),
		chromedp.Poll(`document.getElementById('results').dataset.seq === '1'`, nil, chromedp.WithPollingTimeout(pollTimeout)),
		chromedp.Evaluate(`document.getElementById('mode-dense').disabled`, &denseOff),
		chromedp.Evaluate(`document.getElementById('mode-hybrid').disabled`, &hybridOff),
		chromedp.Evaluate(`document.getElementById('mode-note').hidden`, &noteHidden),
		readHits,
	)
	if err != nil {
		t.Fatal(err)
	}
	if !denseOff || !hybridOff || noteHidden || len(titles) == 0 || titles[0] != "판콜에이내복액" {
		t.Errorf("BM25-only page: dense disabled %v, hybrid disabled %v, note hidden %v, hits %v", denseOff, hybridOff, noteHidden, titles)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("browser errors:\n%s", strings.Join(problems, "\n"))
	}
}

// saveScreenshot checks that data is a PNG of a sensible size and writes
// it to $KORMED_SCREENSHOT_DIR or testdata/out/.
func saveScreenshot(t *testing.T, name string, data []byte, minWidth int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < minWidth || b.Dy() < 600 || b.Dx() > 4000 || b.Dy() > 20000 {
		t.Errorf("screenshot size %v", b.Size())
	}
	dir := os.Getenv("KORMED_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot %s (%v)", abs, img.Bounds().Size())
}

// tagWithID returns the start tag of the element with id in page, or "".
func tagWithID(page, id string) string {
	i := strings.Index(page, ` id="`+id+`"`)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(page[:i], "<")
	end := strings.Index(page[i:], ">")
	if start < 0 || end < 0 {
		return ""
	}
	return page[start : i+end+1]
}

// hasAttr reports whether the start tag has the boolean attribute name.
func hasAttr(tag, name string) bool {
	return regexp.MustCompile(`\s` + name + `(\s|>|=)`).MatchString(tag)
}

// TestWebPageDefaults reads the page as a browser gets it before app.js
// runs (or without JavaScript): the server's alpha on the slider and its
// <output>, the default mode checked, dense and hybrid disabled on a
// BM25-only server, the defaults in <body data-…> for the script.
func TestWebPageDefaults(t *testing.T) {
	svc := newService(t, true, nil)
	svc.Alpha, svc.Fusion = 0.35, search.FusionRRF
	_, ts := newTestServer(t, svc, Options{})
	_, bm25Only := newTestServer(t, newService(t, false, nil), Options{})

	r := call(t, ts, "GET", "/", nil)
	page := string(r.body)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") || r.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("GET /: %d, headers %v", r.status, r.header)
	}
	slider := tagWithID(page, "alpha")
	if !strings.Contains(slider, `value="0.35"`) || hasAttr(slider, "disabled") {
		t.Errorf("slider %s, want value 0.35, enabled", slider)
	}
	if !strings.Contains(page, `<output id="alpha-out" for="alpha">0.35</output>`) {
		t.Errorf("alpha output not 0.35:\n%s", page)
	}
	if !hasAttr(tagWithID(page, "mode-hybrid"), "checked") || hasAttr(tagWithID(page, "mode-bm25"), "checked") || hasAttr(tagWithID(page, "mode-dense"), "checked") {
		t.Errorf("mode radios: %s %s %s, want hybrid checked", tagWithID(page, "mode-bm25"), tagWithID(page, "mode-dense"), tagWithID(page, "mode-hybrid"))
	}
	if !hasAttr(tagWithID(page, "mode-note"), "hidden") || hasAttr(tagWithID(page, "mode-dense"), "disabled") {
		t.Errorf("dense server: note %s, dense %s", tagWithID(page, "mode-note"), tagWithID(page, "mode-dense"))
	}
	if !strings.Contains(page, `<body data-dense="true" data-mode="hybrid" data-alpha="0.35" data-fusion="rrf" data-safety="flag">`) {
		t.Errorf("body data attributes: %s", page[strings.Index(page, "<body"):][:200])
	}
	if q := tagWithID(page, "q"); !strings.Contains(q, `value=""`) {
		t.Errorf("query box %s", q)
	}

	r = call(t, bm25Only, "GET", "/", nil)
	page = string(r.body)
	if !hasAttr(tagWithID(page, "mode-bm25"), "checked") || hasAttr(tagWithID(page, "mode-hybrid"), "checked") {
		t.Errorf("BM25-only: bm25 %s hybrid %s, want bm25 checked", tagWithID(page, "mode-bm25"), tagWithID(page, "mode-hybrid"))
	}
	for _, id := range []string{"mode-dense", "mode-hybrid", "alpha"} {
		if !hasAttr(tagWithID(page, id), "disabled") {
			t.Errorf("BM25-only: %s not disabled", tagWithID(page, id))
		}
	}
	if hasAttr(tagWithID(page, "mode-note"), "hidden") || !strings.Contains(tagWithID(page, "alpha"), `value="0.4"`) {
		t.Errorf("BM25-only: note %s, slider %s (want shown, the default alpha 0.4)", tagWithID(page, "mode-note"), tagWithID(page, "alpha"))
	}

	// The search in the URL fills the form; values the service would
	// refuse fall back to the defaults.
	r = call(t, ts, "GET", "/?q="+url.QueryEscape("해열제")+"&mode=bm25&alpha=0.3&safety=strict&filter.class="+url.QueryEscape("전문")+
		"&exclude_dur="+url.QueryEscape("임부금기,노인주의"), nil)
	page = string(r.body)
	if q := tagWithID(page, "q"); !strings.Contains(q, `value="해열제"`) {
		t.Errorf("query box %s", q)
	}
	if !hasAttr(tagWithID(page, "mode-bm25"), "checked") || hasAttr(tagWithID(page, "mode-hybrid"), "checked") {
		t.Errorf("mode=bm25: %s %s", tagWithID(page, "mode-bm25"), tagWithID(page, "mode-hybrid"))
	}
	if s := tagWithID(page, "alpha"); !strings.Contains(s, `value="0.3"`) || !hasAttr(s, "disabled") {
		t.Errorf("alpha=0.3 in bm25 mode: %s, want value 0.3, disabled", s)
	}
	if !strings.Contains(page, `<option value="strict" selected>`) || strings.Contains(page, `<option value="flag" selected>`) {
		t.Errorf("safety=strict not selected")
	}
	if !strings.Contains(page, `<option value="전문" selected>전문</option>`) {
		t.Errorf("filter.class=전문 not selected")
	}
	checked := regexp.MustCompile(`name="exclude_dur" value="([^"]+)" checked`).FindAllStringSubmatch(page, -1)
	if len(checked) != 2 || checked[0][1] != "임부금기" || checked[1][1] != "노인주의" {
		t.Errorf("exclude_dur checked: %v", checked)
	}
	if !strings.Contains(page, "<title>해열제 — kormed 의약품 검색</title>") {
		t.Errorf("title does not name the query")
	}
	r = call(t, bm25Only, "GET", "/?q=x&mode=dense&alpha=7&safety=bogus", nil)
	page = string(r.body)
	if !hasAttr(tagWithID(page, "mode-bm25"), "checked") || !strings.Contains(tagWithID(page, "alpha"), `value="0.4"`) || !strings.Contains(page, `<option value="flag" selected>`) {
		t.Errorf("invalid mode/alpha/safety: %s %s", tagWithID(page, "mode-bm25"), tagWithID(page, "alpha"))
	}
}

// TestWebPageEscapes checks that the URL's values come back escaped in
// every context they are rendered in: an attribute, an option's text,
// the title.
func TestWebPageEscapes(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{})
	attack := `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`
	r := call(t, ts, "GET", "/?q="+url.QueryEscape(attack)+"&filter.type="+url.QueryEscape(attack)+
		"&filter.class="+url.QueryEscape("</option></select><script>alert(3)</script>")+"&exclude_dur="+url.QueryEscape(attack), nil)
	page := string(r.body)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, page)
	}
	for _, bad := range []string{"<script>alert", "<img", `"'>`, "</option></select><script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	esc := `&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;`
	if q := tagWithID(page, "q"); !strings.Contains(q, `value="`+esc+`"`) {
		t.Errorf("query box %s, want value=%q", q, esc)
	}
	if !strings.Contains(page, `<option value="`+esc+`" selected>`+esc+`</option>`) {
		t.Errorf("filter.type option not escaped:\n%s", page)
	}
	if !strings.Contains(page, "<title>"+esc+" — kormed") {
		t.Errorf("title not escaped")
	}
	if strings.Count(page, "<script") != 1 {
		t.Errorf("%d <script> tags, want app.js only", strings.Count(page, "<script"))
	}
}

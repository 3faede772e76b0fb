package serve

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromiumPath is Debian's chromium; the browser test skips without it.
const chromiumPath = "/usr/bin/chromium"

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
	ctx, cancel := context.WithTimeout(bctx, 45*time.Second)
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
			chromedp.WithPollingTimeout(10*time.Second))
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

	// 1. Type a question, press Enter: 타이레놀 first, terms highlighted.
	var placeholder string
	var classOptions []string
	err = chromedp.Run(ctx,
		log.Enable(),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible("#q", chromedp.ByID),
		chromedp.Poll(`document.body.dataset.ready === '1'`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.AttributeValue("#q", "placeholder", &placeholder, nil, chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#f-class option'), o => o.textContent)`, &classOptions),
		chromedp.SendKeys("#q", "열을 내리는 약"+kb.Enter, chromedp.ByID),
		searched(),
		readHits,
	)
	if err != nil {
		t.Fatalf("first search: %v (problems: %v)", err, problems)
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
	var loc string
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
	var q, class, alpha string
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/?q="+url.QueryEscape("두통")+"&mode=hybrid&alpha=0.8&filter.class="+url.QueryEscape("일반")),
		chromedp.Poll(`document.getElementById('results').dataset.seq === '1'`, nil, chromedp.WithPollingTimeout(10*time.Second)),
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

	// 6. A BM25-only server: dense and hybrid disabled, with a note.
	var denseOff, hybridOff, noteHidden bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(bm25Only.URL+"/?q="+url.QueryEscape("판콜에이내복액")),
		chromedp.Poll(`document.getElementById('results').dataset.seq === '1'`, nil, chromedp.WithPollingTimeout(10*time.Second)),
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

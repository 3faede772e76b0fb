package serve

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kormed/kormed/search"
)

// The starting state: a Server made with New(nil, opts) listens at once
// (Serve) while its index loads; until SetService gives it the service,
// GET /healthz answers 503 {"status":"starting"} and every other route 503
// with a JSON error and Retry-After, so that a load balancer or an
// orchestrator sees a live process that is not ready yet rather than a
// closed port.

// startingRetryAfter is the Retry-After, in seconds, of a request made
// while the server starts.
const startingRetryAfter = 5

// SetService makes a server created with New(nil, opts) ready: from now on
// it answers with svc. Call it once; Options.Reload is not called before.
func (s *Server) SetService(svc *search.Service) {
	if svc == nil || s.ready.Load() {
		panic("serve: SetService needs a service, once, on a server made with New(nil, …)")
	}
	s.svc = svc
	if s.autoSyncWrite && svc.Dense() {
		s.opts.SyncWriteChars = s.opts.MaxEmbedTokens // as New does for a dense service
	}
	s.ready.Store(true)
	s.log.Info("ready")
}

// Ready reports whether the server has its service.
func (s *Server) Ready() bool { return s.ready.Load() }

// starting answers a request made before SetService.
func (s *Server) starting(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(startingRetryAfter))
	if r.URL.Path == "/healthz" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	writeError(w, http.StatusServiceUnavailable, "starting: the index is still loading; retry in a few seconds (GET /healthz says when it is ready)")
}

// IndexSwapped logs and counts (kormed_index_reloads_total) a new index
// generation swapped in, whatever triggered it: a reload ("poll",
// "SIGHUP"), a write that found a re-index's generation ("write") or a
// compaction ("compaction"); embedded.Index.OnSwap reports the last two. A
// non-nil err is a failed attempt (a background compaction), logged as an
// error and not counted.
func (s *Server) IndexSwapped(trigger string, err error) {
	if err != nil {
		s.log.Error("index swap failed", "trigger", trigger, "error", err.Error())
		return
	}
	s.reloads.Add(1)
	attrs := []any{"trigger", trigger}
	if s.ready.Load() {
		if info, err := s.svc.Info(context.Background()); err == nil {
			attrs = append(attrs, "docs", info.Docs, "generation", info.Generated)
			if s.svc.Dense() && info.Model.Name != s.svc.Model.Name {
				s.log.Error("the reloaded index was built with another model; dense searches will fail until the server restarts with it",
					"index_model", info.Model.Name, "model", s.svc.Model.Name)
			}
		}
	}
	s.log.Info("index reloaded", attrs...)
}

package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kormed/kormed/search"
)

// Document jobs: a POST /v1/documents whose documents hold more than
// Options.SyncWriteChars characters (or that asks with ?async=true) is
// answered 202 with a Job at once and written in the background, in
// batches of at most SyncWriteChars characters, each one committed as it
// is written; GET /v1/jobs/{id} reports its progress and result. Jobs run
// one at a time, each batch under the MaxInflight limit like a request;
// at most MaxJobs are queued or running (more answer 429), and the last
// maxFinishedJobs finished ones are kept, in memory only.

// Job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// maxFinishedJobs is how many finished jobs GET /v1/jobs/{id} still knows.
const maxFinishedJobs = 100

// Job is a document write running in the background.
type Job struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Documents are those the request sent; Done those written so far
	// (each batch is committed: a failed job has written its first Done
	// documents, and sending the request again rewrites them all).
	Documents int `json:"documents"`
	Done      int `json:"done"`
	// Upserted is the result of a job that is done, as a synchronous
	// write answers {"upserted": n}; Error says why one failed.
	Upserted int        `json:"upserted,omitempty"`
	Error    string     `json:"error,omitempty"`
	Created  time.Time  `json:"created"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
}

type job struct {
	Job
	docs []search.Doc
	done chan struct{} // closed when the job has finished
}

// jobs holds a server's document jobs.
type jobs struct {
	max    int
	ctx    context.Context // the jobs' context, cancelled by stop
	cancel context.CancelFunc

	mu       sync.Mutex
	byID     map[string]*job
	queue    []*job
	active   int      // queued or running
	finished []string // ids in the order they finished
	working  bool     // a worker goroutine runs
}

func newJobs(max int) *jobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &jobs{max: max, ctx: ctx, cancel: cancel, byID: map[string]*job{}}
}

// stop cancels the jobs: a running one fails before its next batch.
func (js *jobs) stop() { js.cancel() }

// get returns a copy of a job's report, and the channel closed when it
// finishes.
func (js *jobs) get(id string) (Job, <-chan struct{}, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.byID[id]
	if !ok {
		return Job{}, nil, false
	}
	return j.Job, j.done, true
}

// submit queues a job writing docs with run; false when MaxJobs are
// already queued or running.
func (js *jobs) submit(docs []search.Doc, run func(*job)) (Job, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.active >= js.max {
		return Job{}, false
	}
	var b [12]byte
	rand.Read(b[:])
	j := &job{Job: Job{ID: "job-" + hex.EncodeToString(b[:]), Status: JobQueued, Documents: len(docs), Created: time.Now().UTC()},
		docs: docs, done: make(chan struct{})}
	js.byID[j.ID] = j
	js.queue = append(js.queue, j)
	js.active++
	if !js.working {
		js.working = true
		go js.work(run)
	}
	return j.Job, true
}

// work runs the queued jobs one after another, then exits.
func (js *jobs) work(run func(*job)) {
	for {
		js.mu.Lock()
		if len(js.queue) == 0 {
			js.working = false
			js.mu.Unlock()
			return
		}
		j := js.queue[0]
		js.queue = js.queue[1:]
		now := time.Now().UTC()
		j.Status, j.Started = JobRunning, &now
		js.mu.Unlock()
		run(j)
	}
}

// progress records n more documents written.
func (js *jobs) progress(j *job, n int) {
	js.mu.Lock()
	j.Done += n
	js.mu.Unlock()
}

// finish records a job's end (err nil: done) and forgets the oldest
// finished jobs beyond maxFinishedJobs.
func (js *jobs) finish(j *job, errMsg string) {
	js.mu.Lock()
	defer js.mu.Unlock()
	now := time.Now().UTC()
	j.Finished = &now
	if errMsg == "" {
		j.Status, j.Upserted = JobDone, j.Done
	} else {
		j.Status, j.Error = JobFailed, errMsg
	}
	j.docs = nil
	js.active--
	js.finished = append(js.finished, j.ID)
	if n := len(js.finished) - maxFinishedJobs; n > 0 {
		for _, id := range js.finished[:n] {
			delete(js.byID, id)
		}
		js.finished = append(js.finished[:0:0], js.finished[n:]...)
	}
	close(j.done)
}

// batches splits docs into runs of at most limit characters (titles and
// texts; a longer document is a batch of its own).
func batches(docs []search.Doc, limit int) [][]search.Doc {
	var out [][]search.Doc
	start, chars := 0, 0
	for i, d := range docs {
		n := docChars(d)
		if i > start && chars+n > limit {
			out = append(out, docs[start:i])
			start, chars = i, 0
		}
		chars += n
	}
	return append(out, docs[start:])
}

// docChars counts the characters of a document's title and text, what
// the BM25 analysis and the encoder read.
func docChars(d search.Doc) int {
	return utf8.RuneCountInString(d.Title) + utf8.RuneCountInString(d.Text)
}

// runJob writes a job's documents batch by batch.
func (s *Server) runJob(j *job) {
	ctx := s.jobs.ctx
	start := time.Now()
	for _, b := range batches(j.docs, s.opts.SyncWriteChars) {
		err := s.lim.heavy.acquire(ctx)
		if err == nil {
			err = s.svc.Upsert(ctx, b)
			s.lim.heavy.release()
		}
		if err != nil {
			msg := err.Error()
			switch {
			case search.IsRequestError(err):
			case ctx.Err() != nil:
				msg = "the server shut down before the job finished"
			default:
				// The details go to the log only, as for a 500.
				msg = "internal error (see the server log for job " + j.ID + ")"
			}
			s.log.Error("document job failed", "job", j.ID, "done", j.Done, "documents", j.Documents, "error", err.Error())
			s.jobs.finish(j, msg)
			return
		}
		s.jobs.progress(j, len(b))
	}
	s.log.Info("documents upserted", "job", j.ID, "count", j.Documents,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
	s.jobs.finish(j, "")
}

// asyncParam reads the async query parameter of POST /v1/documents: nil
// when absent (a job when the documents are over SyncWriteChars).
func asyncParam(r *http.Request) (*bool, error) {
	q := r.URL.Query()
	for name := range q {
		if name != "async" {
			return nil, fmt.Errorf("unknown parameter %q (want async)", name)
		}
	}
	v, ok := q["async"]
	if !ok {
		return nil, nil
	}
	if len(v) != 1 {
		return nil, fmt.Errorf("parameter async given %d times", len(v))
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil {
		return nil, fmt.Errorf("async: %q, want true or false", v[0])
	}
	return &b, nil
}

// writeLater answers a document write that is not to run in the request:
// 202 and a job when async is true, or when it is unset and the documents
// hold more than SyncWriteChars characters; 413 when they do and async is
// false. It reports whether it answered.
func (s *Server) writeLater(w http.ResponseWriter, r *http.Request, docs []search.Doc, async *bool) bool {
	chars := 0
	for _, d := range docs {
		chars += docChars(d)
	}
	big := chars > s.opts.SyncWriteChars
	switch {
	case async == nil && !big, async != nil && !*async && !big:
		return false
	case async != nil && !*async:
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"documents: %d characters, at most %d in a synchronous write (--max-sync-write-chars): leave out async=false to write them as a job, or split them",
			chars, s.opts.SyncWriteChars))
		return true
	}
	if err := search.CheckDocs(docs); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return true
	}
	j, ok := s.jobs.submit(docs, s.runJob)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
			"too busy: %d document jobs are queued or running, the most this server keeps (--max-jobs); retry later", s.opts.MaxJobs))
		return true
	}
	s.log.Info("document job queued", "request_id", reqInfoOf(r).id, "job", j.ID, "documents", len(docs), "characters", chars)
	w.Header().Set("Location", "/v1/jobs/"+j.ID)
	writeJSON(w, http.StatusAccepted, j)
	return true
}

// getJob answers GET /v1/jobs/{id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	id := r.PathValue("id")
	j, _, ok := s.jobs.get(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no job %q (jobs are kept in memory: the last %d finished ones, until the server restarts)", id, maxFinishedJobs))
		return
	}
	writeJSON(w, http.StatusOK, j)
}

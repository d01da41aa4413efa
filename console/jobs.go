package console

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/spgate/spgate/clock"
)

// A job is work started from a page that outlives the request (a
// rotation, the AWS setup): the page shows its lines as they come, by
// polling /jobs/{id} (or re-loading without JavaScript).
type job struct {
	ID    string
	Kind  string // "rotate", "aws-plan", "aws-apply"
	Title string

	mu      sync.Mutex
	started time.Time
	ended   time.Time
	lines   []jobLine
	err     string
}

type jobLine struct {
	Time time.Time `json:"time"`
	Step string    `json:"step,omitempty"`
	Text string    `json:"text"`
}

// jobView is a job as pages and /jobs/{id} see it.
type jobView struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Title   string    `json:"title"`
	Started time.Time `json:"started"`
	Done    bool      `json:"done"`
	Failed  bool      `json:"failed"`
	Error   string    `json:"error,omitempty"`
	Lines   []jobLine `json:"lines"`
	// Steps is the rotation's steps with their state, for "rotate" jobs.
	Steps []stepState `json:"steps,omitempty"`
}

func (j *job) add(step, text string, now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.lines) < 500 {
		j.lines = append(j.lines, jobLine{Time: now, Step: step, Text: scrub(text)})
	}
}

func (j *job) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := jobView{ID: j.ID, Kind: j.Kind, Title: j.Title, Started: j.started, Done: !j.ended.IsZero(),
		Failed: j.err != "", Error: j.err, Lines: append([]jobLine(nil), j.lines...)}
	if j.Kind == "rotate" {
		v.Steps = rotationSteps(v)
	}
	return v
}

// jobs keeps the latest job of each kind.
type jobs struct {
	mu     sync.Mutex
	clk    clock.Clock
	byID   map[string]*job
	latest map[string]*job
	wg     sync.WaitGroup
}

func newJobs(clk clock.Clock) *jobs {
	return &jobs{clk: clk, byID: map[string]*job{}, latest: map[string]*job{}}
}

// start runs fn in the background as a job of kind, unless one of the
// kinds in exclusive is still running (then it returns that one and false).
func (js *jobs) start(ctx context.Context, kind, title string, exclusive []string, fn func(ctx context.Context, j *job) error) (*job, bool) {
	js.mu.Lock()
	for _, k := range append([]string{kind}, exclusive...) {
		if j := js.latest[k]; j != nil && !j.view().Done {
			js.mu.Unlock()
			return j, false
		}
	}
	id, _ := randomToken("")
	id = id[:16]
	j := &job{ID: id, Kind: kind, Title: title, started: js.clk.Now()}
	if old := js.latest[kind]; old != nil {
		delete(js.byID, old.ID)
	}
	js.byID[id] = j
	js.latest[kind] = j
	js.wg.Add(1)
	js.mu.Unlock()
	go func() {
		defer js.wg.Done()
		err := fn(ctx, j)
		j.mu.Lock()
		j.ended = js.clk.Now()
		if err != nil {
			j.err = scrub(err.Error())
		}
		j.mu.Unlock()
	}()
	return j, true
}

func (js *jobs) get(id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.byID[id]
}

func (js *jobs) last(kind string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.latest[kind]
}

// wait waits for running jobs; their contexts end with the console's.
func (js *jobs) wait() { js.wg.Wait() }

func (c *Console) handleJob(w http.ResponseWriter, r *http.Request, _ *session) {
	j := c.jobs.get(r.PathValue("id"))
	if j == nil {
		http.Error(w, "no such job", http.StatusNotFound)
		return
	}
	writeJSON(w, j.view())
}

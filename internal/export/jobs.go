package export

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"
)

// Job is a background export as its owner sees it.
type Job struct {
	ID      string
	Owner   int64 // the user who started it
	Name    string
	Format  Format
	Started time.Time
	Done    int // rows written so far
	Total   int // rows expected; 0 when unknown
	Ended   time.Time
	Err     error
	File    []byte // the finished file
}

// Finished reports whether the job has ended, well or not.
func (j *Job) Finished() bool { return !j.Ended.IsZero() }

// Percent is the progress in percent, 0 while the total is unknown.
func (j *Job) Percent() int {
	if j.Finished() && j.Err == nil {
		return 100
	}
	if j.Total <= 0 {
		return 0
	}
	return min(99, j.Done*100/j.Total)
}

// Jobs runs exports in the background and keeps their files for a while. A
// process-local store: a restart loses unfinished and undownloaded exports.
type Jobs struct {
	mu   sync.Mutex
	jobs map[string]*Job
	keep time.Duration
	max  int // jobs running or kept per owner
}

// NewJobs returns a job runner that keeps finished files for keep.
func NewJobs(keep time.Duration) *Jobs {
	return &Jobs{jobs: map[string]*Job{}, keep: keep, max: 5}
}

// Run is an export's work: it writes the file to w and calls progress with the rows
// written so far.
type Run func(ctx context.Context, w *bytes.Buffer, progress func(done int)) error

// ErrBusy is returned when an owner has too many exports running or kept.
var ErrBusy = &busy{}

type busy struct{}

func (*busy) Error() string { return "export: too many exports; wait for one to finish" }

// Start starts a job for owner; total is the expected number of rows (0 if unknown).
func (js *Jobs) Start(owner int64, name string, f Format, total int, run Run) (*Job, error) {
	js.mu.Lock()
	js.expire()
	n := 0
	for _, j := range js.jobs {
		if j.Owner == owner {
			n++
		}
	}
	if n >= js.max {
		js.mu.Unlock()
		return nil, ErrBusy
	}
	b := make([]byte, 12)
	rand.Read(b)
	j := &Job{ID: hex.EncodeToString(b), Owner: owner, Name: name, Format: f, Started: time.Now(), Total: total}
	js.jobs[j.ID] = j
	c := *j // the caller's copy, taken before the job can change
	js.mu.Unlock()
	go func() {
		var buf bytes.Buffer
		err := run(context.Background(), &buf, func(done int) {
			js.mu.Lock()
			j.Done = done
			js.mu.Unlock()
		})
		if err != nil {
			slog.Warn("export failed", "job", j.ID, "name", name, "err", err)
		}
		js.mu.Lock()
		j.Ended, j.Err = time.Now(), err
		if err == nil {
			j.File = buf.Bytes()
		}
		js.mu.Unlock()
	}()
	return &c, nil
}

// Get returns a copy of owner's job id, and false when there is none (or it expired).
func (js *Jobs) Get(owner int64, id string) (Job, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.expire()
	j, ok := js.jobs[id]
	if !ok || j.Owner != owner {
		return Job{}, false
	}
	return *j, true
}

// expire drops finished jobs older than keep; js.mu is held.
func (js *Jobs) expire() {
	for id, j := range js.jobs {
		if j.Finished() && time.Since(j.Ended) > js.keep {
			delete(js.jobs, id)
		}
	}
}

package stream

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// The write-behind of window files. Encoding a closed window (CSV and
// deflate) costs about as much as windowing its records, so the goroutine that
// parses hands each closed window to a goroutine of its own and goes on. The
// writes keep their order: each job encodes at once, in parallel with the
// others, then waits for the job submitted before it to finish before it
// writes, so the objects appear in the order in which the windows closed, as
// with synchronous writes. A job whose partition's previous write failed does
// not write (it is skipped): the failed write and the ones after it are
// retried, in order and synchronously, before the partition emits anything
// else. Checkpoint waits for every write of its partition, so an offset is
// committed only once the files it covers are durable.

// DefaultWriteAhead is the default of Config.WriteAhead.
const DefaultWriteAhead = 3

// DefaultWriteTimeout is the default of Config.WriteTimeout.
const DefaultWriteTimeout = 100 * time.Second

type writeJob struct {
	st       *partition
	end      time.Time
	name     string
	rows     windowRows // the job's own copy
	guarded  bool
	epoch    uint64 // the partition's ownership epoch, written into the file
	min, max int64  // offsets, for the log

	prev, prevSame *writeJob // the job submitted before, and the one before of the same partition
	done           chan struct{}

	// Set by the job's goroutine before done is closed.
	data    []byte
	msgs    []Message // the rows' emit messages, with Config.KeepRows
	kept    bool
	err     error
	skipped bool // not attempted: the partition's previous write failed
}

// submit hands a closed window to the write-behind. It blocks while
// Config.WriteAhead jobs are in flight.
func (p *Processor) submit(ctx context.Context, st *partition, c *closedWindow) error {
	end := time.Unix(c.End, 0).UTC()
	name, err := p.cfg.Sink.WindowName(end, st.source)
	if err != nil {
		return fmt.Errorf("write window file: %w", err)
	}
	j := &writeJob{st: st, end: end, name: name, rows: c.Rows,
		guarded: st.guarded, epoch: st.epoch, min: c.MinOffset, max: c.MaxOffset, prev: p.lastJob, done: make(chan struct{})}
	if n := len(st.inflight); n > 0 {
		j.prevSame = st.inflight[n-1]
	}
	// A slot is released by a job when it is done; a job's write ends within
	// Config.WriteTimeout, and the wait for a slot within ctx (the poll loop's
	// budget), so that a lake outage cannot hold the feeding goroutine. The
	// window stays in the engine and is handed over again by the next emit.
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("write window file %s: waiting for the writes before it: %w", name, ctx.Err())
	}
	p.lastJob = j
	st.inflight = append(st.inflight, j)
	st.dirty = true
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.WriteTimeout)
	go func() {
		defer func() { <-p.slots }()
		defer cancel()
		defer close(j.done)
		j.data, j.err = p.encode(j.rows, j.epoch)
		if p.cfg.KeepRows {
			j.msgs = j.rows.appendMessages(nil)
		}
		if j.prev != nil {
			<-j.prev.done // which follows the done of every earlier job
		}
		failed := j.prevSame != nil && (j.prevSame.err != nil || j.prevSame.skipped)
		j.prev, j.prevSame = nil, nil // let finished jobs go
		if failed {
			j.skipped = true
			return
		}
		if j.err == nil {
			j.err = p.put(jctx, j)
		}
	}()
	return nil
}

func (p *Processor) encode(rows windowRows, epoch uint64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(rows.Len() * 16)
	if err := lake.EncodeRowsEpoch(&buf, p.cfg.Records.columns(), rows, p.cfg.Index, epoch); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// put writes an encoded job and counts it. It runs on the job's goroutine or,
// for a retry, on the caller's.
func (p *Processor) put(ctx context.Context, j *writeJob) error {
	var err error
	if j.guarded {
		j.kept, err = p.cfg.Sink.CreateWindowData(ctx, j.name, j.data)
	} else {
		err = p.cfg.Sink.ReplaceWindowData(ctx, j.name, j.data, j.epoch)
	}
	if err != nil {
		return fmt.Errorf("write window file %s: %w", j.name, err)
	}
	if j.kept {
		p.cfg.Metrics.windowsKept.Inc()
		p.cfg.Logger.Info("window file exists and is kept: the partition started without commit metadata, so this window may be rebuilt from part of its records",
			"object", j.name, "partition", j.st.id)
		return nil
	}
	m := p.cfg.Metrics
	m.windowsEmitted.Inc()
	m.rowsWritten.Add(float64(j.rows.Len()))
	m.files.WithLabelValues("window").Inc()
	m.bytes.WithLabelValues("window").Add(float64(len(j.data)))
	p.cfg.Logger.Debug("window written", "object", j.name, "rows", j.rows.Len(), "partition", j.st.id,
		"min_offset", j.min, "max_offset", j.max)
	return nil
}

// collect takes the finished writes of a partition, in order. With wait, it
// waits for all of them (or for ctx). The first failed write and the ones
// after it move to the partition's retry list, and collect returns the
// failure.
func (p *Processor) collect(ctx context.Context, st *partition, wait bool) error {
	for len(st.inflight) > 0 {
		j := st.inflight[0]
		if wait {
			select {
			case <-j.done:
			case <-ctx.Done():
				return fmt.Errorf("waiting for the window files of %s to be written: %w", st.source, ctx.Err())
			}
		} else {
			select {
			case <-j.done:
			default:
				return nil
			}
		}
		if j.err != nil || j.skipped {
			// The later writes of the partition skip: wait for them, they are quick.
			for _, later := range st.inflight[1:] {
				<-later.done
			}
			err := j.err
			if err == nil {
				err = fmt.Errorf("write window file %s: an earlier write failed", j.name)
			}
			st.retry = append(st.retry, st.inflight...)
			st.inflight = st.inflight[:0]
			return err
		}
		p.written(st, j)
		st.inflight[0] = nil
		st.inflight = st.inflight[1:]
	}
	return nil
}

// written records a window file that is durable.
func (p *Processor) written(st *partition, j *writeJob) {
	if p.cfg.KeepRows && !j.kept {
		if j.msgs == nil {
			j.msgs = j.rows.appendMessages(nil) // a retry of a job that did not encode
		}
		st.pending = append(st.pending, j.msgs...)
	}
}

// retryWrites writes the failed and skipped window files of a partition
// again, in order, on the caller's goroutine.
func (p *Processor) retryWrites(ctx context.Context, st *partition) error {
	for len(st.retry) > 0 {
		j := st.retry[0]
		if j.data == nil {
			var err error
			if j.data, err = p.encode(j.rows, j.epoch); err != nil {
				return err
			}
		}
		j.kept = false
		if err := p.put(ctx, j); err != nil {
			return err
		}
		p.written(st, j)
		st.retry[0] = nil
		st.retry = st.retry[1:]
	}
	return nil
}

// writing reports whether window files of the partition handed to the
// write-behind are still being written. Jobs finish in order, so the last
// one's being done means every one is.
func (p *Processor) writing(st *partition) bool {
	if len(st.inflight) == 0 {
		return false
	}
	select {
	case <-st.inflight[len(st.inflight)-1].done:
		return false
	default:
		return true
	}
}

// settle waits for the writes of a partition that is being dropped, ignoring
// their failures: its next owner writes its windows again.
func (p *Processor) settle(st *partition) {
	for _, j := range st.inflight {
		<-j.done
	}
	st.inflight, st.retry = nil, nil
}

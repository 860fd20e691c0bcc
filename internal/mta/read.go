package mta

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"

	"github.com/turnstile-stream/turnstile-stream/internal/textline"
)

// fileReader reads one file at a time into sorted runs: the state of one
// reading goroutine.
type fileReader struct {
	c              *Converter
	file, chunks   int       // the file being read (its position in read order) and its runs so far
	chunk, scratch []reading // the run being read, and the sort's scratch space
	stats          Stats     // of the file being read
	before         []early   // with --from: per turnstile, its last reading before from

	// one-entry caches: consecutive rows mostly share a turnstile and attributes
	lastKey, lastAttr       []byte
	lastKeyID, lastAttrID   int32
	keyScratch, attrScratch []byte
}

// early is a turnstile's latest reading before --from, and the file it
// came from.
type early struct {
	r    reading
	file int
	set  bool
}

// ReadFile reads one turnstile file, plain or gzip (detected by its magic
// bytes, whatever its name).
func (c *Converter) ReadFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open turnstile file: %w", err)
	}
	defer f.Close()
	return c.Read(ctx, path, f)
}

// Read reads one turnstile file from r, plain or gzip; name is used in
// warnings and errors. The first non-blank line must be a header. A later line
// that is a header (as when weekly files are concatenated) starts a new
// header. Bad rows are skipped, logged with name and line number, and counted.
// An error is returned only when the file cannot be read or has no valid
// header, or when a run cannot be spilled.
func (c *Converter) Read(ctx context.Context, name string, r io.Reader) error {
	c.files++
	return c.readers[0].read(ctx, c.files-1, name, r)
}

func (c *Converter) newFileReader() *fileReader {
	return &fileReader{c: c, lastKeyID: -1, lastAttrID: -1}
}

// read reads file number file (its position in read order) from r.
func (fr *fileReader) read(ctx context.Context, file int, name string, r io.Reader) error {
	c := fr.c
	if err := c.failed(); err != nil {
		return err
	}
	fr.file, fr.chunks, fr.chunk, fr.stats = file, 0, fr.chunk[:0], Stats{}
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	fr.stats.Files = 1
	var (
		p        RowParser
		row      Row
		lines    = textline.NewReader(br)
		lineNo   int
		haveHdr  bool
		reported int64
	)
	for {
		line, err := lines.Next()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s:%d: read: %w", name, lineNo+1, err)
		}
		if len(line) == 0 && err != nil {
			break
		}
		lineNo++
		if lineNo&0xffff == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("%s:%d: %w", name, lineNo, cerr)
			}
			c.progress.addRead(fr.stats.Read - reported)
			reported = fr.stats.Read
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !haveHdr {
			h, herr := ParseHeader(line)
			if herr != nil {
				return fmt.Errorf("%s:%d: not a turnstile file: %w", name, lineNo, herr)
			}
			p.Header, haveHdr = h, true
			continue
		}
		if rerr := p.ParseRow(line, &row); rerr != nil {
			if h, herr := ParseHeader(line); herr == nil {
				p.Header = h
				continue
			}
			fr.stats.Read++
			fr.stats.Skipped++
			c.log.Warn("skipping bad row", "file", name, "line", lineNo, "err", rerr)
			continue
		}
		fr.stats.Read++
		if row.Time < c.from || row.Time >= c.to {
			fr.outOfRange(&row)
		} else {
			if len(fr.chunk) == c.runReadings {
				if serr := fr.sealRun(); serr != nil {
					return serr
				}
			}
			fr.chunk = append(fr.chunk, fr.intern(&row))
		}
		if err != nil {
			break
		}
	}
	if !haveHdr {
		return fmt.Errorf("%s: not a turnstile file: no header", name)
	}
	// One file, one run (or several for a huge file): runs never mix files,
	// so the merge orders ties by file first.
	if err := fr.sealRun(); err != nil {
		return err
	}
	c.mu.Lock()
	c.stats.Files += fr.stats.Files
	c.stats.Read += fr.stats.Read
	c.stats.Skipped += fr.stats.Skipped
	c.stats.OutOfRange += fr.stats.OutOfRange
	c.mu.Unlock()
	c.progress.addRead(fr.stats.Read - reported)
	c.progress.fileDone()
	return nil
}

// outOfRange deals with a reading outside [from, to): one at or after to is
// dropped; one before from is kept only while it is its turnstile's latest
// (the first in read order of equal times), as the base of the turnstile's
// first delta in range.
func (fr *fileReader) outOfRange(r *Row) {
	if r.Time >= fr.c.to {
		fr.stats.OutOfRange++
		return
	}
	rd := fr.intern(r)
	for int(rd.key) >= len(fr.before) {
		fr.before = append(fr.before, early{})
	}
	b := &fr.before[rd.key]
	if !b.set {
		*b = early{r: rd, file: fr.file, set: true}
		return
	}
	fr.stats.OutOfRange++ // one of the two is dropped
	if rd.t > b.r.t {     // this reader reads its files in read order
		*b = early{r: rd, file: fr.file, set: true}
	}
}

// intern returns the compact reading of a parsed row, interning its
// turnstile and attributes.
func (fr *fileReader) intern(r *Row) reading {
	c := fr.c
	fr.keyScratch = append(append(append(append(append(fr.keyScratch[:0], r.CA...), '|'), r.Unit...), '|'), r.SCP...)
	if fr.lastKeyID < 0 || !bytes.Equal(fr.keyScratch, fr.lastKey) {
		c.mu.Lock()
		id, ok := c.turnstiles[string(fr.keyScratch)]
		if !ok {
			id = int32(len(c.keys))
			c.turnstiles[string(fr.keyScratch)] = id
			c.keys = append(c.keys, turnstileKey{CA: string(r.CA), Unit: string(r.Unit), SCP: string(r.SCP)})
		}
		c.mu.Unlock()
		fr.lastKeyID = id
		fr.lastKey = append(fr.lastKey[:0], fr.keyScratch...)
	}
	s := append(fr.attrScratch[:0], r.Station...)
	s = append(append(s, 0), r.LineName...)
	s = append(append(s, 0), r.Division...)
	s = append(append(s, 0), r.Desc...)
	fr.attrScratch = s
	if fr.lastAttrID < 0 || !bytes.Equal(s, fr.lastAttr) {
		c.mu.Lock()
		id, ok := c.attrIndex[string(s)]
		if !ok {
			id = int32(len(c.attrs))
			c.attrIndex[string(s)] = id
			c.attrs = append(c.attrs, attrs{Station: string(r.Station), LineName: string(r.LineName), Division: string(r.Division), Desc: string(r.Desc)})
		}
		c.mu.Unlock()
		fr.lastAttrID = id
		fr.lastAttr = append(fr.lastAttr[:0], s...)
	}
	return reading{t: r.Time, entries: r.Entries, exits: r.Exits, key: fr.lastKeyID, attr: fr.lastAttrID}
}

// ReadInputs reads the inputs in order, as ReadInput on each would, on up to
// workers goroutines at once (each with a file in memory as one run and its
// sort scratch: about 16 MB for a weekly file). The result is the same
// whatever the number of workers. It returns the error of the earliest
// input that failed, and stops reading the others.
func (c *Converter) ReadInputs(ctx context.Context, ins []Input, workers int) error {
	workers = max(1, min(workers, len(ins)))
	for len(c.readers) < workers {
		c.readers = append(c.readers, c.newFileReader())
	}
	first := c.files
	c.files += len(ins)
	if workers == 1 {
		for i, in := range ins {
			if err := c.readers[0].readInput(ctx, first+i, in); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		errMu  sync.Mutex
		errAt  = len(ins)
		errVal error
	)
	for _, fr := range c.readers[:workers] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each reader takes the next file in read order, so that its own
			// files come in read order (outOfRange relies on it).
			for i := int(next.Add(1) - 1); i < len(ins) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fr.readInput(ctx, first+i, ins[i]); err != nil {
					errMu.Lock()
					// The first file's error wins, but never a cancellation
					// caused by another reader's failure (cancel, below)
					// over that failure.
					canceled := errors.Is(err, context.Canceled)
					switch {
					case errVal == nil,
						!canceled && errors.Is(errVal, context.Canceled),
						canceled == errors.Is(errVal, context.Canceled) && i < errAt:
						errAt, errVal = i, err
					}
					errMu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if errVal == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return errVal
}

func (fr *fileReader) readInput(ctx context.Context, file int, in Input) error {
	rc, err := in.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	return fr.read(ctx, file, in.Name, rc)
}

// Command soda-local serves a ridership dataset from a JSON file (the API's
// answer shape, e.g. testdata/ridership/sample.json) as a fake Socrata SODA
// endpoint (internal/ridership/sodatest), for local runs of the producer's
// ridership source:
//
//	go run ./tools/soda-local --rows testdata/ridership/sample.json --speed 3600 &
//	producer --source ridership --dataset 5wq4-mkjj --soda-url http://127.0.0.1:8090 --poll-interval 2s --out -
//
// With --speed, the dataset grows as a live feed does: a row exists once its
// transit_timestamp is at or before a clock that starts at --start (default:
// the first row's hour) and runs --speed times as fast as the wall clock.
// Without it, every row is there from the start. It answers as strictly as
// the fake does ($limit <= 50000, known parameters only, 400 on a bad
// $where). Ctrl-C stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/ridership/sodatest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "soda-local:", err)
		os.Exit(2)
	}
}

// run parses args and serves until ctx is done. ready, when not nil, gets
// the listening address.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("soda-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8090, "port to listen on (0 = any free port)")
	dataset := fs.String("dataset", "5wq4-mkjj", "the dataset ID served at /resource/ID.json")
	rowsPath := fs.String("rows", "testdata/ridership/sample.json", "JSON array of rows to serve")
	speed := fs.Float64("speed", 0, "reveal rows as a live feed: data seconds per wall second; 0 = all rows at once")
	start := fs.String("start", "", "data time the --speed clock starts at, 2006-01-02T15:04:05; default the first row's hour")
	token := fs.String("app-token", "", "when set, requests without this X-App-Token get 403")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	data, err := os.ReadFile(*rowsPath)
	if err != nil {
		return err
	}
	rows, err := sodatest.LoadRows(data)
	if err != nil {
		return err
	}
	opts := sodatest.Options{Dataset: *dataset, AppToken: *token}
	if *speed < 0 {
		return fmt.Errorf("--speed %v: must not be negative", *speed)
	}
	if *speed > 0 {
		t0, err := clockStart(*start, rows)
		if err != nil {
			return err
		}
		opts.Now = sodatest.Clock(t0, *speed, time.Now)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sodatest.New(rows, opts), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "soda-local: serving %d rows of %s at http://%s/resource/%s.json (speed %v)\n", len(rows), *rowsPath, ln.Addr(), *dataset, *speed)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// clockStart returns --start, or the hour of the earliest row.
func clockStart(s string, rows []sodatest.Row) (time.Time, error) {
	if s != "" {
		t, ok := sodatest.ParseFloating(s)
		if !ok {
			return time.Time{}, fmt.Errorf("--start %q: want 2006-01-02T15:04:05", s)
		}
		return t, nil
	}
	var first time.Time
	for _, r := range rows {
		if v, ok := r["transit_timestamp"].(string); ok {
			if t, ok := sodatest.ParseFloating(v); ok && (first.IsZero() || t.Before(first)) {
				first = t
			}
		}
	}
	if first.IsZero() {
		return time.Time{}, errors.New("no row has a transit_timestamp; give --start")
	}
	return first.Truncate(time.Hour), nil
}

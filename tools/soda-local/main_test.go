package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
)

// TestServesSample serves the repository's sample and asks for a page the
// way the poller does.
func TestServesSample(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--port", "0", "--rows", filepath.Join("..", "..", "testdata", "ridership", "sample.json")}, &stderr, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/resource/5wq4-mkjj.json?%24order=transit_timestamp,station_complex_id,payment_method,fare_class_category&%24limit=5")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	err = json.NewDecoder(resp.Body).Decode(&rows)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(rows) != 5 || rows[0]["transit_timestamp"] != "2025-01-14T00:00:00.000" {
		t.Errorf("status %d, %d rows (%v), err %v", resp.StatusCode, len(rows), rows, err)
	}
	resp, err = http.Get("http://" + addr + "/resource/5wq4-mkjj.json?%24limit=50001")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("$limit=50001: %d, want 400", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--speed", "-1"}, {"--rows", "does-not-exist.json"}, {"extra"}, {"--speed", "60", "--start", "noon"}} {
		var stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"--port", "0", "--rows", filepath.Join("..", "..", "testdata", "ridership", "sample.json")}, args...), &stderr, nil); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

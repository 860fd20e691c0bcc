package stream

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/turnstile-stream/turnstile-stream/internal/stream/metricname"
)

// TestMetricNamesRegistered checks that the consumer serves every metric that
// package metricname names, with the partition label where it says so.
func TestMetricNamesRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.SetLag(3, 10)
	m.watermarkGauge(3).Set(1556971200)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // name -> first label name, if any
	for _, f := range fams {
		got[f.GetName()] = ""
		if ms := f.GetMetric(); len(ms) > 0 && len(ms[0].GetLabel()) > 0 {
			got[f.GetName()] = ms[0].GetLabel()[0].GetName()
		}
	}
	for _, name := range []string{metricname.RecordsIn, metricname.RecordsValid, metricname.RecordsDuplicate,
		metricname.RecordsRejected, metricname.WindowsEmitted, metricname.SinkRetries} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s is not registered", name)
		}
	}
	for _, name := range []string{metricname.Lag, metricname.WatermarkSeconds} {
		if label, ok := got[name]; !ok || label != metricname.Partition {
			t.Errorf("%s: registered %v, label %q; want label %q", name, ok, label, metricname.Partition)
		}
	}
}

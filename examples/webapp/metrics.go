package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// metrics gives the library an OpenTelemetry meter provider whose
// metrics GET /metrics serves in Prometheus's text format, when on; nil
// otherwise (the library then records nothing). The registry is the app's
// own, not Prometheus's global one, so that copies of the app in one
// process (the tests) do not collide.
func (a *app) metrics(on bool) (metric.MeterProvider, error) {
	if !on {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)), nil
}

package twofactor_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/totp"
)

// Telemetry needs only the host's providers: here the OpenTelemetry SDK
// with a reader a test can collect from (a host would give an exporter's,
// such as the Prometheus one, or otel.GetMeterProvider()).
func ExampleConfig_telemetry() {
	k, _ := keyring.GenerateKey("k1")
	keys, _ := keyring.New(k)
	reader := sdkmetric.NewManualReader()
	svc, err := twofactor.New(twofactor.Config{
		Store: store.NewMemory(), Keys: keys, Events: &event.Sink{Discard: true},
		Factors:        []twofactor.FactorConfig{totp.Config{Issuer: "Acme"}},
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		TracerProvider: sdktrace.NewTracerProvider(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// A user without a factor: Begin answers that there is none.
	if _, err := svc.Begin(ctx, twofactor.User{ID: "42"}, twofactor.Client{}); err != nil {
		fmt.Println(err)
		return
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range rm.ScopeMetrics {
		fmt.Println(sm.Scope.Name)
		for _, m := range sm.Metrics {
			if m.Name == "twofactor.step.duration" {
				fmt.Println(m.Name, m.Unit)
			}
		}
	}
	// Output:
	// github.com/twofactorkit/twofactor
	// twofactor.step.duration s
}

package twofactor

// Uninstrumented returns cfg for a Service built without telemetry, the
// baseline of BenchmarkLoginTelemetryCost.
func Uninstrumented(cfg Config) Config {
	cfg.uninstrumented = true
	return cfg
}

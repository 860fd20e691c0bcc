package lake

// NewBackends is newBackends, for the external tests (acceptance_test.go).
var NewBackends = newBackends

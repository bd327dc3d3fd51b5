// Package bench holds the benchmarks that compare maildird with the
// servers it replaces, on the same machine, in the same run:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/
//
// Each benchmark reports both servers' rates and their ratio with
// b.ReportMetric. They start a real Dovecot (internal/dovecottest) and
// skip when it is not installed.
package bench
